{# The ad platforms' staging models share one column contract (see docs/architecture.md):
   stg_<platform>__accounts, stg_<platform>__campaigns, stg_<platform>__ad_daily. The core layer
   unions them over var('ad_platforms'); a platform a company does not use has empty raw
   tables, so its models still build (to no rows). #}
{# only_partitions: a query of (platform, account_id, date_day); when given, each platform's rows
   of those partitions only, joined inside each platform's select: PostgreSQL computes a staging
   view's columns (casts, Meta's conversions parsed from JSON) for every row that leaves it, so a
   join on the union as a whole computed all rows first (~20 s for 12k rows of 1.3M, a quarter of
   the large world); joined here, only the partitions' rows are computed. A join on the distinct
   partitions, which both engines hash (an IN over the query ran row by row on PostgreSQL when it
   misjudged its size, and as a correlated EXISTS on DuckDB). #}
{% macro union_ad_platforms(kind, columns, only_partitions=none) -%}
    {%- for p in var('ad_platforms') %}
    {%- if only_partitions %}
    select {% for c in columns %}r.{{ c }}{{ ', ' if not loop.last }}{% endfor %} from {{ ref('stg_' ~ p ~ '__' ~ kind) }} as r
    join (select distinct platform, account_id, date_day from ({{ only_partitions }}) as c) as c
      on c.platform = r.platform and c.account_id = r.account_id and c.date_day = r.date_day
    {%- else %}
    select {{ columns | join(', ') }} from {{ ref('stg_' ~ p ~ '__' ~ kind) }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
