-- grain: platform, account_id, campaign_id, ad_group_id, ad_id, date_day (the day the platform
-- reports in: see date_day_basis). Spend converts to the reporting currency at the ECB rates of
-- the last publication on or before date_day (weekends and TARGET holidays take the last earlier
-- one); both legs of a cross rate come from that same publication; spend already in the
-- reporting currency needs no rate. A row that needs a rate the stored ECB rates lack is held
-- back, never a silent zero: it is in fct_ad_daily_fx_missing (the pipeline quarantines it with
-- the currency and day, and it returns on the first build after the rate is stored).
--
-- Incremental (its cost grows with history): a build replaces only the (platform, account_id,
-- date_day) partitions that changed since the last one (macros/incremental.sql says what
-- changes them); `revops transform --full-refresh` rebuilds it whole, to the same rows.
{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    partition_columns=['platform', 'account_id', 'date_day'],
    changed_partitions='ad_daily_changed_partitions',
    pre_hook="{{ save_changed_partitions() }}",
    post_hook="{{ drop_changed_partitions() }}",
    on_schema_change='fail'
) }}
-- what it reads (macros/ad_daily_fx.sql, and the changed partitions that only an incremental build
-- asks for, saved by its pre-hook: macros/incremental.sql)
{% for p in var('ad_platforms') -%}
-- depends_on: {{ ref('stg_' ~ p ~ '__ad_daily') }} {{ ref('stg_' ~ p ~ '__accounts') }}
{% endfor -%}
-- depends_on: {{ ref("stg_ecb__rates") }} {{ source("ecb", "ecb__rates") }} {{ source('offline', 'offline__files') }} {{ source('offline', 'offline__spend_lines') }}
with fx as (
    {{ ad_daily_fx('select * from ' ~ changed_partitions_table() if is_incremental() else none) }}
)
select
    platform, account_id, campaign_id, ad_group_id, ad_id, date_day, date_day_basis, date_day_timezone,
    spend, spend_native, currency, fx_rate, fx_rate_date,
    impressions, clicks, platform_conversions, platform_conversion_value, _loaded_at
from fx
where not fx_missing
