-- one row per Salesforce Account (lead conversion creates one: Lead.ConvertedAccountId), deleted
-- ones included
select
    "Id" as account_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "MasterRecordId" as master_record_id,
    "Name" as account_name,
    "Type" as account_type,
    case when "OwnerId" like '005%' then "OwnerId" end as owner_id,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("LastModifiedDate" as timestamptz) as updated_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__accounts') }}
