-- grain: utm_campaign (normalised: lower case, single spaces). The lead-source values the CRMs
-- hold that resolve to no campaign (core.dim_person.source_campaign_id NULL while utm_campaign
-- is set): what a marketer adds to seeds/campaign_aliases.csv, most leads first. Organic contacts
-- (no utm_campaign) are not here; they are unattributed by nature.
with unresolved as (
    select
        {{ norm_key('utm_campaign') }} as utm_campaign,
        trim(utm_campaign) as spelling,
        channel,
        created_at,
        lead_at
    from {{ ref('dim_person') }}  -- people: a person in both CRMs once, with their first record's value
    where source_campaign_id is null and {{ norm_key('utm_campaign') }} is not null
),
grouped as (
    select
        utm_campaign,
        min({{ byte_order('spelling') }}) as example_spelling,
        min({{ byte_order('channel') }}) as channel,
        count(*) as contacts,
        sum(case when lead_at is not null then 1 else 0 end) as leads,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at
    from unresolved
    group by utm_campaign
)
select
    cast(row_number() over (order by leads desc, contacts desc, {{ byte_order('utm_campaign') }}) as bigint)
        as unresolved_rank,
    utm_campaign,
    example_spelling,
    channel,
    cast(contacts as bigint) as contacts,
    cast(leads as bigint) as leads,
    first_seen_at,
    last_seen_at
from grouped
