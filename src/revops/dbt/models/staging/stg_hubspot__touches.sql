-- one row per HubSpot form submission: a marketing touch (staging contract stg_<crm>__touches).
-- A submission carries the email the form captured, not a contact id: it belongs to the contact
-- record holding that email as its primary email or one of its hs_additional_emails (where a
-- merged-away duplicate's email lives on), followed through merges to the surviving id. Deleted
-- contacts' touches keep their (archived) contact id: core drops them by joining dim_contact.
-- A table, not a view as the rest of staging: matching millions of submissions to emails is the
-- costly part, and its tests (touch_id unique, touched_at present) and core.int_touches each ran
-- it again as a view (5.2 s of the large world's incremental build; bench/README.md).
{{ config(materialized='table') }}
with submissions as (
    select
        cast("conversionId" as varchar) as touch_id,
        lower(trim({{ hs('email') }})) as email,
        {{ epoch_ms_to_ts('"submittedAt"') }} as touched_at,
        {{ hs('utm_campaign') }} as utm_campaign,
        {{ hs('formName') }} as campaign_name
    from {{ source('raw', 'hubspot__form_submissions') }}
),
contact_emails as (
    select contact_id, lower(trim(email)) as email
    from {{ ref('stg_hubspot__contacts') }}
    where email is not null
    union
    select contact_id, lower(trim(additional_email)) as email
    from (
        select contact_id, {{ unnest_split('additional_emails') }} as additional_email
        from {{ ref('stg_hubspot__contacts') }}
        where additional_emails is not null
    ) extra
),
people as (
    -- one person per email; should two share it, the live one first, then the smallest id
    select e.email, coalesce(m.survivor_id, e.contact_id) as contact_id
    from contact_emails e
    left join {{ ref('stg_hubspot__contact_merges') }} m on m.merged_id = e.contact_id
    where e.email <> ''
),
ranked as (
    select p.email, p.contact_id,
        row_number() over (
            partition by p.email
            order by case when coalesce(c.is_archived, false) then 1 else 0 end,
                     {{ byte_order('p.contact_id') }}
        ) as rn
    from (select distinct email, contact_id from people) p
    left join {{ ref('stg_hubspot__contacts') }} c on c.contact_id = p.contact_id
)
select
    s.touch_id,
    r.contact_id,
    s.touched_at,
    'form_submission' as touch_type,
    s.utm_campaign,
    s.campaign_name
from submissions s
left join ranked r on r.email = s.email and r.rn = 1
