-- one row per Salesforce Lead, deleted (merged-away) leads included: is_deleted and
-- master_record_id (the surviving lead) let core resolve merges. OwnerId may be a queue
-- (00G...): owner_id keeps users only, owner_queue_id the queue.
select
    "Id" as lead_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "MasterRecordId" as master_record_id,
    "FirstName" as first_name,
    "LastName" as last_name,
    "Company" as company,
    "Email" as email,
    "LeadSource" as lead_source,
    "Status" as status,
    case when "OwnerId" like '005%' then "OwnerId" end as owner_id,
    case when "OwnerId" like '00G%' then "OwnerId" end as owner_queue_id,
    cast("IsConverted" as boolean) as is_converted,
    cast("ConvertedDate" as date) as converted_date,
    "ConvertedContactId" as converted_contact_id,
    "ConvertedAccountId" as converted_account_id,
    "ConvertedOpportunityId" as converted_opportunity_id,
    nullif(trim({{ adapter.quote(var('salesforce_utm_campaign_field', 'UTM_Campaign__c')) }}), '') as utm_campaign,
    {{ adapter.quote(var('salesforce_rejection_reason_field', 'Disqualification_Reason__c')) }} as rejection_reason,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("LastModifiedDate" as timestamptz) as updated_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__leads') }}
