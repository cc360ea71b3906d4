-- Contact -> the lead that converted to it (a merged-away Contact first follows MasterRecordId to
-- its survivor). In Salesforce a person is the Lead: its converted Contact (and that Contact's
-- opportunities) map back to the lead's id so the person counts once. A Contact several live
-- leads converted into belongs to the earliest-created of them (lowest id on a tie).
with live_leads as (
    select lead_id, converted_contact_id, created_at
    from {{ ref('stg_salesforce__leads') }}
    where not coalesce(is_deleted, false) and converted_contact_id is not null
),
contacts as (
    select contact_id, coalesce(master_record_id, contact_id) as resolved_contact_id, is_deleted
    from {{ ref('stg_salesforce__contacts') }}
),
ranked as (
    select
        c.contact_id,
        c.is_deleted,
        l.lead_id,
        row_number() over (partition by c.contact_id order by l.created_at, l.lead_id) as rn
    from contacts c
    join live_leads l on l.converted_contact_id = c.resolved_contact_id
)
select contact_id, coalesce(is_deleted, false) as is_contact_deleted, lead_id
from ranked
where rn = 1
