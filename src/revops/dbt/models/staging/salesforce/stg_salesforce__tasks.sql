-- one row per Task. activity_date is the DUE date (a date, org-local), never when the task
-- happened: use completed_at (CompletedDateTime) or created_at. who_id points to a Lead (00Q)
-- or, once the lead converted (Salesforce moves its activities), to the Contact (003).
select
    "Id" as task_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "WhoId" as who_id,
    case when "WhoId" like '00Q%' then 'lead' when "WhoId" like '003%' then 'contact' end as who_type,
    "WhatId" as what_id,
    "Subject" as subject,
    cast("ActivityDate" as date) as activity_date,
    "Status" as status,
    "OwnerId" as owner_id,
    cast("IsClosed" as boolean) as is_closed,
    "TaskSubtype" as task_subtype,
    "Type" as task_type,
    cast("CompletedDateTime" as timestamptz) as completed_at,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__tasks') }}
