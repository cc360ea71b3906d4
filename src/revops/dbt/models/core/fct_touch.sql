-- grain: one row per person (crm, contact_id) and campaign: the person's FIRST response to it.
-- HubSpot form submissions and Salesforce campaign members (core.int_touches, each already
-- resolved to the surviving person); a merged-away duplicate's touches are its survivor's, a
-- deleted person's are gone (inner join to dim_contact). The campaign resolves like a lead source:
-- through core.dim_campaign_alias (its id, or any name it has had, case- and space-insensitive;
-- core.int_touch_campaign).
-- A touch whose campaign does not resolve stays, with NULL campaign_id (is_resolved false).
with campaign_keys as (
    -- each utm_campaign value once: its campaign, and which campaign a response to it counts for
    -- (the resolved campaign, else the value itself, case- and space-insensitive). Per value,
    -- not per touch: normalising millions of touches' values with a regex was most of the
    -- window's cost on the large world
    select u.utm_campaign, r.platform, r.campaign_id,
        coalesce(r.platform || ':' || r.campaign_id, {{ norm_key('u.utm_campaign') }}) as response_key
    from (select distinct utm_campaign from {{ ref('int_touches') }} where utm_campaign is not null) as u
    left join {{ ref('int_touch_campaign') }} r on r.utm_campaign = u.utm_campaign
),
people_touches as (
    select
        t.*,
        k.platform,
        k.campaign_id,
        row_number() over (
            partition by t.crm, t.contact_id, k.response_key
            order by t.touched_at, t.touch_id
        ) as nth_response
    from {{ ref('int_touches') }} t
    join {{ ref('dim_contact') }} c on c.crm = t.crm and c.contact_id = t.contact_id
    left join campaign_keys k on k.utm_campaign = t.utm_campaign
)
select
    p.crm,
    p.touch_id,
    p.contact_id,
    p.touched_at,
    p.touch_type,
    p.utm_campaign,
    p.campaign_name as crm_campaign_name,
    p.platform,
    p.campaign_id,
    coalesce(ch.channel, 'other') as channel,
    p.campaign_id is not null as is_resolved
from people_touches p
left join {{ ref('channel_mapping') }} ch on ch.source_type = 'platform' and ch.source_value = p.platform
where p.nth_response = 1
