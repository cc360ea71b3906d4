{# The ad campaign each utm_campaign value of `relation` names, through core.dim_campaign_alias:
   the aliases it matches as written (trimmed) or normalised, the best priority kept (ties to
   the first platform and campaign id); one row per distinct value (as written) that matches an
   alias, none for a value that matches none. What decides a row's campaign is its utm_campaign
   alone, so its readers join on the value: the aliases are matched and ranked once per value (a
   few thousand), not once per row (millions of responses), and no table of a row per record is
   written and joined back by key. Two equality joins and their union, not one join on
   "= or =", which both engines ran as every value against every alias with a regexp per pair.
   Used by core.int_contact_campaign and core.int_touch_campaign: one for each reader, so a
   failure on either side (a touches test) does not hold the other's models. #}
{% macro campaign_resolution(relation) -%}
with utms as (
    select distinct utm_campaign from {{ relation }} where utm_campaign is not null
),
matched as (
    select u.utm_campaign, a.priority, a.platform, a.campaign_id
    from utms u
    join {{ ref('dim_campaign_alias') }} a on a.alias = trim(u.utm_campaign)
    union
    select u.utm_campaign, a.priority, a.platform, a.campaign_id
    from utms u
    join {{ ref('dim_campaign_alias') }} a on a.alias = {{ norm_key('u.utm_campaign') }}
),
ranked as (
    select
        utm_campaign,
        platform,
        campaign_id,
        row_number() over (partition by utm_campaign order by priority, platform, campaign_id) as rn
    from matched
)
select utm_campaign, platform, campaign_id
from ranked
where rn = 1
{%- endmacro %}
