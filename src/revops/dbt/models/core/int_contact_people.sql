-- an intermediate of core.dim_contact (not for BI): one row per live, surviving CRM record with
-- its email hash, stage times, first sales touch and company id, before the company key and the
-- campaign resolution are joined to it (core.dim_contact). A model of its own so that no
-- one query holds every hash table of the person's joins at once: DuckDB spills one join's hash
-- table to disk under its memory limit, but several in one pipeline each claim memory unaware of
-- the others and fail with "Out of Memory" instead (bench/README.md, "Large world").
-- HubSpot: a contact, stage times from hs_v2_date_entered_<stage>; merged-away and archived
-- contacts dropped. Salesforce: a Lead (its converted Contact and opportunities map back to it);
-- stage times from LeadHistory status changes, opportunity/customer from its opportunities
-- (int_salesforce_opportunities, deleted ones included). Which CRM value means which funnel
-- stage (MQL, SQL, rejected...) comes from seeds/crm_stage_mapping.csv.
with stage_map as (
    select crm, field, value, stage from {{ ref('crm_stage_mapping') }}
    where (crm = 'hubspot' and object = 'contact' and field = 'hs_lead_status')
       or (crm = 'salesforce' and object = 'lead' and field = 'Status')
),
hs_sales_touches as (
    -- outbound calls, sent emails and meetings logged by a sales user (an owner outside the
    -- marketing teams, var marketing_teams); staging already resolved merged-away contacts
    select e.contact_id, e.owner_id, e.occurred_at
    from {{ ref('stg_hubspot__engagements') }} e
    left join {{ ref('dim_owner') }} o on o.crm = 'hubspot' and o.owner_id = e.owner_id
    where not e.is_archived
      and e.owner_id is not null
      and e.contact_id is not null
      and (e.is_outbound or e.type = 'meeting')
      and coalesce(o.team, '') not in ({% for t in var('marketing_teams') %}'{{ t | replace("'", "''") }}'{{ ',' if not loop.last }}{% endfor %})
),
hs_primary_company as (
    -- a contact's company: the company that names it its primary contact (the company ->
    -- contact association labelled Primary, typeId 2, else its first associated contact;
    -- staging already followed merges); one per contact, the earliest created on a tie
    select
        primary_contact_id as contact_id,
        company_id,
        row_number() over (partition by primary_contact_id
                           order by created_at, length(company_id), company_id) as rn
    from {{ ref('stg_hubspot__companies') }}
    where not coalesce(is_archived, false) and primary_contact_id is not null
),
hs_first_touch as (
    -- the first sales touch after the MQL moment by the contact's owner (anyone's in sales
    -- while nobody owns it); not the hs_first_outreach_date rollup, which any engagement
    -- sets and an owner change resets. A join and a group by (contact_id is unique in staging),
    -- not a subquery per contact: PostgreSQL ran that as a scan of every engagement for every
    -- contact (80 s of a 107 s build at 20k contacts, growing with the square of the world)
    select c.contact_id, min(t.occurred_at) as first_sales_touch_at
    from {{ ref('stg_hubspot__contacts') }} c
    join hs_sales_touches t
      on t.contact_id = c.contact_id and t.occurred_at >= c.mql_at
     and (c.owner_id is null or t.owner_id = c.owner_id)
    group by c.contact_id
),
hubspot as (
    select
        'hubspot' as crm,
        c.contact_id,
        c.email,
        c.created_at,
        c.updated_at,
        c.owner_id,
        c.lifecycle_stage,
        c.lead_status,
        c.utm_campaign,
        c.analytics_source,
        c.lead_at,
        c.mql_at,
        c.sql_at,
        c.opportunity_at,
        c.customer_at,
        -- rejected when the status took its rejected value (the status's own history); the
        -- portal's rejected-date property only when no history came; never lastmodifieddate
        case when m.stage = 'rejected' then coalesce(c.lead_status_set_at, c.rejected_at) end as rejected_at,
        case when m.stage = 'rejected' then c.rejection_reason end as rejection_reason,
        ft.first_sales_touch_at,
        pc.company_id
    from {{ ref('stg_hubspot__contacts') }} c
    left join stage_map m on m.crm = 'hubspot' and m.value = c.lead_status
    left join hs_first_touch ft on ft.contact_id = c.contact_id
    left join hs_primary_company pc on pc.contact_id = c.contact_id and pc.rn = 1
    where not coalesce(c.is_archived, false)
      -- not exists, not "not in (select ...)": PostgreSQL runs "not in" as a hashed subplan only
      -- while its estimate of the list fits work_mem, else it scans the list for every contact
      -- (6.7 s -> 116 s at a fifth of the large world; over 11 minutes at full size); "not exists"
      -- is an anti join on both engines
      and not exists (select 1 from {{ ref('stg_hubspot__contact_merges') }} mg where mg.merged_id = c.contact_id)
),
sf_leads as (
    select * from {{ ref('stg_salesforce__leads') }} where not coalesce(is_deleted, false)
),
sf_status_changes as (
    select
        h.lead_id, h.created_at, h.old_value, h.new_value,
        row_number() over (partition by h.lead_id order by h.created_at, h.lead_history_id) as rn
    from {{ ref('stg_salesforce__lead_history') }} h
    join sf_leads l on l.lead_id = h.lead_id
    where h.field = 'Status' and not coalesce(h.is_deleted, false)
),
sf_status_events as (
    -- the status the lead was created with: the old value of its first change, else its status
    select l.lead_id, l.created_at as changed_at, coalesce(f.old_value, l.status) as status
    from sf_leads l
    left join sf_status_changes f on f.lead_id = l.lead_id and f.rn = 1
    union all
    select lead_id, created_at as changed_at, new_value as status from sf_status_changes
),
sf_stages as (
    select
        e.lead_id,
        min(case when m.stage = 'lead' then e.changed_at end) as lead_at,
        min(case when m.stage = 'mql' then e.changed_at end) as mql_at,
        min(case when m.stage = 'sql' then e.changed_at end) as sql_at,
        max(case when m.stage = 'rejected' then e.changed_at end) as last_rejected_at
    from sf_status_events e
    join stage_map m on m.crm = 'salesforce' and m.value = e.status
    group by e.lead_id
),
sf_deals as (
    -- every opportunity the person had, deleted ones too: deleting a deal later does not undo
    -- that the person reached the stage (HubSpot keeps hs_v2_date_entered_<stage> likewise)
    select
        lead_id,
        min(created_at) as opportunity_at,
        min(case when mapped_stage = 'won' then closed_at end) as customer_at
    from {{ ref('int_salesforce_opportunities') }}
    where lead_id is not null
    group by lead_id
),
sf_task_people as (
    -- a task on a lead, or on the (live) contact a lead converted to (conversion moves tasks);
    -- tasks left on merged-away (deleted) records do not count
    select
        coalesce(l.lead_id, cl.lead_id) as lead_id,
        t.owner_id,
        coalesce(t.completed_at, t.created_at) as touched_at
    from {{ ref('stg_salesforce__tasks') }} t
    left join sf_leads l on t.who_type = 'lead' and l.lead_id = t.who_id
    left join {{ ref('stg_salesforce__contact_leads') }} cl
      on t.who_type = 'contact' and cl.contact_id = t.who_id and not cl.is_contact_deleted
    where not coalesce(t.is_deleted, false)
      and (t.task_subtype in ('Call', 'Email') or t.task_type in ('Call', 'Email'))
),
sf_event_people as (
    -- meetings (Events) on a lead or on the (live) contact it converted to, like tasks
    select
        coalesce(l.lead_id, cl.lead_id) as lead_id,
        e.owner_id,
        e.activity_at as touched_at
    from {{ ref('stg_salesforce__events') }} e
    left join sf_leads l on e.who_type = 'lead' and l.lead_id = e.who_id
    left join {{ ref('stg_salesforce__contact_leads') }} cl
      on e.who_type = 'contact' and cl.contact_id = e.who_id and not cl.is_contact_deleted
    where not coalesce(e.is_deleted, false)
),
sf_touch_candidates as (
    -- a call/email by the lead's owner, or by anyone while a queue owns it (queue leads are
    -- worked by whoever picks them up); a meeting only by the lead's owner: webinars logged by
    -- marketing and meetings a calendar sync logs without an owner are no sales follow-up
    select tp.lead_id, tp.touched_at
    from sf_task_people tp
    join sf_leads l on l.lead_id = tp.lead_id
    where l.owner_id is null or tp.owner_id = l.owner_id
    union all
    select ep.lead_id, ep.touched_at
    from sf_event_people ep
    join sf_leads l on l.lead_id = ep.lead_id
    where ep.owner_id = l.owner_id
),
sf_first_touch as (
    -- the first sales touch after the MQL
    select s.lead_id, min(tc.touched_at) as first_sales_touch_at
    from sf_touch_candidates tc
    join sf_stages s on s.lead_id = tc.lead_id
    where tc.touched_at >= s.mql_at
    group by s.lead_id
),
salesforce as (
    select
        'salesforce' as crm,
        l.lead_id as contact_id,
        l.email,
        l.created_at,
        l.updated_at,
        l.owner_id,
        cur.stage as lifecycle_stage,
        l.status as lead_status,
        l.utm_campaign,
        l.lead_source as analytics_source,
        s.lead_at,
        s.mql_at,
        s.sql_at,
        d.opportunity_at,
        d.customer_at,
        -- the last LeadHistory change into a rejected status (or the creation, when the lead was
        -- created with it and its history shows no change), never LastModifiedDate
        case when cur.stage = 'rejected' then s.last_rejected_at end as rejected_at,
        case when cur.stage = 'rejected' then l.rejection_reason end as rejection_reason,
        ft.first_sales_touch_at,
        -- the lead's company: the Account of its converted Contact now (a contact can move to
        -- another account), else the Account the conversion made (ConvertedAccountId); an
        -- unconverted lead has none (Lead.Company is free text)
        coalesce(ct.account_id, l.converted_account_id) as company_id
    from sf_leads l
    left join {{ ref('stg_salesforce__contacts') }} ct
      on ct.contact_id = l.converted_contact_id and not coalesce(ct.is_deleted, false)
    left join stage_map cur on cur.crm = 'salesforce' and cur.value = l.status
    left join sf_stages s on s.lead_id = l.lead_id
    left join sf_deals d on d.lead_id = l.lead_id
    left join sf_first_touch ft on ft.lead_id = l.lead_id
),
people as (
    select * from hubspot
    union all
    select * from salesforce
)
-- the email pseudonymised here (ops.email_hashes): no core table holds a person's clear email
select
    p.crm,
    p.contact_id,
    eh.email_hash,
    p.created_at,
    p.updated_at,
    p.owner_id,
    p.lifecycle_stage,
    p.lead_status,
    p.utm_campaign,
    p.analytics_source,
    p.lead_at,
    p.mql_at,
    p.sql_at,
    p.opportunity_at,
    p.customer_at,
    p.rejected_at,
    p.rejection_reason,
    p.first_sales_touch_at,
    p.company_id
from people p
left join {{ source('ops', 'email_hashes') }} eh on eh.email_norm = lower(trim(p.email))
