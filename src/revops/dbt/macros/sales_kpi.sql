{# Helpers of the sales KPI marts (kpi_lead_response, kpi_pipeline); general dialect helpers
   (durations, month series) are in cross_db.sql. #}

{# The instant this dbt invocation started (dbt's run_started_at, UTC) as a timestamptz
   literal: "as of the run" in the marts, one value for every row and model of a build. #}
{% macro run_started_ts() -%}
    {%- if run_started_at is not none -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00:00' as timestamptz)
    {%- else -%}
    current_timestamp
    {%- endif -%}
{%- endmacro %}

{# Continuous percentile (linear interpolation between the closest ranks) of a double
   precision expression over the group; NULLs ignored, NULL when the group has no value. #}
{% macro percentile_continuous(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_continuous', 'revops')(expr, fraction)) }}
{%- endmacro %}
{% macro duckdb__percentile_continuous(expr, fraction) -%}
    cast(quantile_cont(cast({{ expr }} as double), {{ fraction }}) as double)
{%- endmacro %}
{% macro postgres__percentile_continuous(expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by cast({{ expr }} as double precision))
{%- endmacro %}

{# The name of the primary team in a HubSpot owner's `teams` JSON array
   ('[{"id": "..", "name": "SDR East", "primary": true}]'); NULL when no team is primary. #}
{% macro hubspot_primary_team(teams_json) -%}
    {{ return(adapter.dispatch('hubspot_primary_team', 'revops')(teams_json)) }}
{%- endmacro %}
{% macro duckdb__hubspot_primary_team(teams_json) -%}
    (select min(json_extract_string(e, '$.name'))
       from (select unnest(cast(json({{ teams_json }}) as json[])) as e) as t
      where json_extract_string(e, '$.primary') = 'true')
{%- endmacro %}
{% macro postgres__hubspot_primary_team(teams_json) -%}
    (select min(e ->> 'name')
       from jsonb_array_elements(cast({{ teams_json }} as jsonb)) as e
      where e ->> 'primary' = 'true')
{%- endmacro %}

{# Monday of the ISO week / first day of the month of a DATE, as DATE (same on both engines). #}
{% macro week_start(d) -%}cast(date_trunc('week', cast({{ d }} as timestamp)) as date){%- endmacro %}
{% macro month_start(d) -%}cast(date_trunc('month', cast({{ d }} as timestamp)) as date){%- endmacro %}
