{# Dialect helpers: the same models run on DuckDB and PostgreSQL. #}

{# The calendar day of a UTC timestamp in the reporting time zone. #}
{% macro reporting_date(ts) -%}
    cast(({{ ts }} at time zone '{{ var("reporting_timezone") }}') as date)
{%- endmacro %}

{# Normalise a campaign name or utm value for matching: case- and whitespace-insensitive. #}
{% macro norm_key(expr) -%}
    nullif(regexp_replace(lower(trim({{ expr }})), '\s+', ' ', 'g'), '')
{%- endmacro %}

{# Sum of `value` of the entries of a Meta `actions` JSON array with the given action_type.
   Use exactly one action type: Meta's lead types overlap (lead, onsite_conversion.lead_grouped,
   offsite_conversion.fb_pixel_lead ...) and summing them double counts. #}
{% macro meta_action_value(col, action_type) -%}
    {{ return(adapter.dispatch('meta_action_value', 'revops')(col, action_type)) }}
{%- endmacro %}
{#- DuckDB: list functions, not a correlated subquery over the unnested list. DuckDB turns such a
    subquery into a join it cannot drop, so every query over stg_meta__ad_daily paid for the
    conversions, used or not: a count took 4.2 s against 0.1 s, max(date_day) 1.05 s against
    0.08 s over the large world's 2.1M rows (the same values, row for row). -#}
{% macro duckdb__meta_action_value(col, action_type) -%}
    list_sum(list_transform(
        list_filter(cast(json({{ col }}) as json[]),
                    lambda e: json_extract_string(e, '$.action_type') = '{{ action_type }}'),
        lambda e: cast(json_extract_string(e, '$.value') as decimal(18, 2))))
{%- endmacro %}
{% macro postgres__meta_action_value(col, action_type) -%}
    (select sum(cast(e ->> 'value' as numeric(18, 2)))
       from jsonb_array_elements(cast({{ col }} as jsonb)) as e
      where e ->> 'action_type' = '{{ action_type }}')
{%- endmacro %}

{# A ;-separated string as rows (use in a select list: one row per element). #}
{% macro unnest_split(col, sep=';') -%}
    {{ return(adapter.dispatch('unnest_split', 'revops')(col, sep)) }}
{%- endmacro %}
{% macro duckdb__unnest_split(col, sep) -%}unnest(string_split({{ col }}, '{{ sep }}')){%- endmacro %}
{% macro postgres__unnest_split(col, sep) -%}unnest(string_to_array({{ col }}, '{{ sep }}')){%- endmacro %}

{# A HubSpot property as sent: '' means cleared, treat as null. #}
{% macro hs(prop) -%}nullif({{ adapter.quote(prop) }}, ''){%- endmacro %}
{% macro hs_ts(prop) -%}cast(nullif({{ adapter.quote(prop) }}, '') as timestamptz){%- endmacro %}

{# Order text by bytes (code points), whatever the database's collation: ties broken the same way
   on every engine and locale (PostgreSQL with en_US collation would order differently). #}
{% macro byte_order(expr) -%}
    {{ return(adapter.dispatch('byte_order', 'revops')(expr)) }}
{%- endmacro %}
{% macro duckdb__byte_order(expr) -%}{{ expr }}{%- endmacro %}
{% macro postgres__byte_order(expr) -%}{{ expr }} collate "C"{%- endmacro %}

{# Seconds from timestamptz `start_ts` to `end_ts` (negative when end is earlier), double
   precision, microsecond exact; NULL when either is NULL. #}
{% macro epoch_seconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('epoch_seconds_between', 'revops')(start_ts, end_ts)) }}
{%- endmacro %}
{% macro duckdb__epoch_seconds_between(start_ts, end_ts) -%}
    (cast(epoch_us({{ end_ts }}) - epoch_us({{ start_ts }}) as double) / 1000000)
{%- endmacro %}
{% macro postgres__epoch_seconds_between(start_ts, end_ts) -%}
    cast(extract(epoch from {{ end_ts }}) - extract(epoch from {{ start_ts }}) as double precision)
{%- endmacro %}

{# One row per month start (DATE) from month `first_month` to month `last_month` inclusive;
   use in a select list (a set-returning expression), both arguments month-start dates. #}
{% macro month_series(first_month, last_month) -%}
    {{ return(adapter.dispatch('month_series', 'revops')(first_month, last_month)) }}
{%- endmacro %}
{% macro duckdb__month_series(first_month, last_month) -%}
    cast(unnest(generate_series(cast({{ first_month }} as timestamp), cast({{ last_month }} as timestamp),
                                interval '1 month')) as date)
{%- endmacro %}
{% macro postgres__month_series(first_month, last_month) -%}
    cast(generate_series(cast({{ first_month }} as timestamp), cast({{ last_month }} as timestamp),
                         interval '1 month') as date)
{%- endmacro %}

{# Snapshot validity timestamps in UTC whatever the server's or session's time zone
   (dbt-postgres would take the session's local time; the data dictionary promises UTC). #}
{% macro postgres__snapshot_get_time() -%}(current_timestamp at time zone 'UTC'){%- endmacro %}
{% macro duckdb__snapshot_get_time() -%}(current_timestamp at time zone 'UTC'){%- endmacro %}

{# epoch milliseconds (a bigint, as HubSpot's v1 endpoints send times) as timestamptz, exact to the ms #}
{% macro epoch_ms_to_ts(col) -%}
    {{ return(adapter.dispatch('epoch_ms_to_ts')(col)) }}
{%- endmacro %}
{% macro duckdb__epoch_ms_to_ts(col) -%}(cast('1970-01-01 00:00:00+00' as timestamptz) + to_milliseconds(cast({{ col }} as bigint))){%- endmacro %}
{% macro postgres__epoch_ms_to_ts(col) -%}(timestamptz '1970-01-01 00:00:00+00' + cast({{ col }} as bigint) * interval '1 millisecond'){%- endmacro %}
