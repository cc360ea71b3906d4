-- one row per Salesforce Campaign, deleted ones included. utm_campaign is the org's custom field
-- (var salesforce_campaign_utm_field) holding the utm_campaign value the campaign's links carry
-- (this org: the ad platform's campaign id); empty for campaigns without ad links.
select
    "Id" as campaign_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "Name" as campaign_name,
    "ParentId" as parent_campaign_id,
    "Type" as campaign_type,
    "Status" as status,
    cast("StartDate" as date) as start_date,
    cast("EndDate" as date) as end_date,
    cast("IsActive" as boolean) as is_active,
    nullif(trim({{ adapter.quote(var('salesforce_campaign_utm_field', 'UTM_Campaign__c')) }}), '') as utm_campaign,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__campaigns') }}
