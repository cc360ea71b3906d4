-- one row per LeadHistory entry: Field 'Status' (old -> new value), 'created',
-- 'leadConverted', 'leadMerged'; stage entry times are rebuilt from these rows
select
    "Id" as lead_history_id,
    "LeadId" as lead_id,
    "Field" as field,
    "DataType" as data_type,
    "OldValue" as old_value,
    "NewValue" as new_value,
    "CreatedById" as created_by_id,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("IsDeleted" as boolean) as is_deleted
from {{ source('salesforce', 'salesforce__lead_history') }}
