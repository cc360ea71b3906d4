-- one row per Salesforce Contact (in this org: a converted lead), deleted ones included
select
    "Id" as contact_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "MasterRecordId" as master_record_id,
    "AccountId" as account_id,
    "FirstName" as first_name,
    "LastName" as last_name,
    "Email" as email,
    "LeadSource" as lead_source,
    case when "OwnerId" like '005%' then "OwnerId" end as owner_id,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("LastModifiedDate" as timestamptz) as updated_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__contacts') }}
