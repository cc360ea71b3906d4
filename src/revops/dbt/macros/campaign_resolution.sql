{# The ad campaign each row of `relation` names in its utm_campaign, through core.dim_campaign_alias:
   the aliases it matches as written (trimmed) or normalised, the best priority kept (ties to
   the first platform and campaign id); a row that matches no alias has no row here. Keyed by
   `keys` (a list of column names, unique in `relation`). Two equality joins and their union,
   not one join on "= or =", which both engines ran as every row against every alias with a
   regexp per pair. Used by core.int_contact_campaign and core.int_touch_campaign: each a model
   of its own, so the window here is not one more blocking operator in its reader's query
   (core/int_contact_people.sql says why that matters under DuckDB's memory limit). #}
{% macro campaign_resolution(relation, keys) -%}
{%- set key_list = keys | join(', ') -%}
with matched as (
    select {% for k in keys %}r.{{ k }}, {% endfor %}a.priority, a.platform, a.campaign_id
    from {{ relation }} r
    join {{ ref('dim_campaign_alias') }} a on a.alias = trim(r.utm_campaign)
    union
    select {% for k in keys %}r.{{ k }}, {% endfor %}a.priority, a.platform, a.campaign_id
    from {{ relation }} r
    join {{ ref('dim_campaign_alias') }} a on a.alias = {{ norm_key('r.utm_campaign') }}
),
ranked as (
    select
        {{ key_list }},
        platform,
        campaign_id,
        row_number() over (partition by {{ key_list }} order by priority, platform, campaign_id) as rn
    from matched
)
select {{ key_list }}, platform, campaign_id
from ranked
where rn = 1
{%- endmacro %}
