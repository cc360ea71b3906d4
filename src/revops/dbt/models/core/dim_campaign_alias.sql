-- every string that identifies a campaign in lead-source data, by priority (lowest wins):
-- 0 a marketer's alias (seeds/campaign_aliases.csv), 1 its id, 2 the utm_campaign its own ads'
-- URL tags carry (stg_<platform>__ad_url_tags), 3 every name it has had (current and history).
-- Aliases, tags and names are normalised: case- and whitespace-insensitive. UTM tags baked into
-- ad URLs keep the name a campaign had when the ad was made: the ad still says so even when the
-- campaign was renamed before any sync saw that name, and it says which campaign it belongs to.
-- A value two campaigns share at one priority is dropped at that priority (it may still resolve
-- at a later one).
with aliases as (
    select platform, campaign_id, {{ norm_key('alias') }} as alias, 0 as priority
    from {{ ref('campaign_aliases') }}
    union
    select platform, campaign_id, campaign_id, 1 from {{ ref('dim_campaign') }}
    {%- for p in var('url_tag_platforms') %}
    union
    select platform, campaign_id, utm_campaign_key, 2 from {{ ref('stg_' ~ p ~ '__ad_url_tags') }}
    {%- endfor %}
    union
    select platform, campaign_id, {{ norm_key('campaign_name') }}, 3 from {{ ref('dim_campaign') }}
    union
    select platform, campaign_id, {{ norm_key('campaign_name') }}, 3 from {{ ref('dim_campaign_name_history') }}
),
unambiguous as (
    select alias, priority from aliases where alias is not null
    group by alias, priority having count(distinct platform || ':' || campaign_id) = 1
)
select a.alias, a.priority, a.platform, a.campaign_id
from aliases a
join unambiguous u on u.alias = a.alias and u.priority = a.priority
