-- one row per Event (a meeting). activity_at = ActivityDateTime (UTC; ActivityDate is only the
-- org-local day). who_id points to a Lead (00Q) or, once the lead converted (Salesforce moves its
-- activities), to the Contact (003).
select
    "Id" as event_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "WhoId" as who_id,
    case when "WhoId" like '00Q%' then 'lead' when "WhoId" like '003%' then 'contact' end as who_type,
    "WhatId" as what_id,
    "Subject" as subject,
    cast("ActivityDateTime" as timestamptz) as activity_at,
    cast("ActivityDate" as date) as activity_date,
    cast("StartDateTime" as timestamptz) as start_at,
    cast("EndDateTime" as timestamptz) as end_at,
    "EventSubtype" as event_subtype,
    "Type" as event_type,
    case when "OwnerId" like '005%' then "OwnerId" end as owner_id,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__events') }}
