-- grain: one row per person (crm, contact_id) and campaign: the person's FIRST response to it.
-- HubSpot form submissions and Salesforce campaign members (stg_<crm>__touches, each already
-- resolved to the surviving person); a merged-away duplicate's touches are its survivor's, a
-- deleted person's are gone (inner join to dim_contact). The campaign resolves like a lead source:
-- through core.dim_campaign_alias (its id, or any name it has had, case- and space-insensitive).
-- A touch whose campaign does not resolve stays, with NULL campaign_id (is_resolved false).
with touches as (
    select 'hubspot' as crm, touch_id, contact_id, touched_at, touch_type, utm_campaign, campaign_name
    from {{ ref('stg_hubspot__touches') }}
    union all
    select 'salesforce', touch_id, contact_id, touched_at, touch_type, utm_campaign, campaign_name
    from {{ ref('stg_salesforce__touches') }}
),
resolved as (
    -- the aliases a touch's utm_campaign matches as written (trimmed) or normalised: two equality
    -- joins and their union, not one join on "= or =", which both engines ran as every touch
    -- against every alias with a regexp per pair (the slowest model of a large world's build)
    select
        touch_id,
        platform,
        campaign_id,
        row_number() over (partition by crm, touch_id order by priority, platform, campaign_id) as rn
    from (
        select t.crm, t.touch_id, a.alias, a.priority, a.platform, a.campaign_id
        from touches t
        join {{ ref('dim_campaign_alias') }} a on a.alias = trim(t.utm_campaign)
        union
        select t.crm, t.touch_id, a.alias, a.priority, a.platform, a.campaign_id
        from touches t
        join {{ ref('dim_campaign_alias') }} a on a.alias = {{ norm_key('t.utm_campaign') }}
    ) matched
),
people_touches as (
    select
        t.*,
        r.platform,
        r.campaign_id,
        row_number() over (
            partition by t.crm, t.contact_id, coalesce(r.platform || ':' || r.campaign_id, {{ norm_key('t.utm_campaign') }})
            order by t.touched_at, t.touch_id
        ) as nth_response
    from touches t
    join {{ ref('dim_contact') }} c on c.crm = t.crm and c.contact_id = t.contact_id
    left join resolved r on r.touch_id = t.touch_id and r.rn = 1
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
