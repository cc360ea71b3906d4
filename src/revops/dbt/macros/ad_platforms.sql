{# The ad platforms' staging models share one column contract (see docs/architecture.md):
   stg_<platform>__accounts, stg_<platform>__campaigns, stg_<platform>__ad_daily. The core layer
   unions them over var('ad_platforms'); a platform a company does not use has empty raw
   tables, so its models still build (to no rows). #}
{% macro union_ad_platforms(kind, columns) -%}
    {%- for p in var('ad_platforms') %}
    select {{ columns | join(', ') }} from {{ ref('stg_' ~ p ~ '__' ~ kind) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
