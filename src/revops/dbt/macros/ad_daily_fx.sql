{# every ad platform's rows with spend converted to the reporting currency (see core/fct_ad_daily.sql);
   fx_missing = the row needs a rate (its currency is not the reporting currency) and the stored
   ECB rates have none on or before its day: such rows are held back (fct_ad_daily_fx_missing).
   only_partitions: a query of (platform, account_id, date_day); when given, only those rows.
   only_missing: only the rows whose currency and day have no rate (fct_ad_daily_fx_missing): the
   rates are looked up once per currency and day, from the ad rows' currency and day alone, and
   only the ad rows of the days that lack one are read in full (about none, against millions
   converted to find them). #}
{% macro ad_daily_fx(only_partitions=none, only_missing=false) %}
{%- set columns = ['platform', 'account_id', 'campaign_id', 'ad_group_id', 'ad_id', 'date_day', 'currency',
                   'spend_native', 'impressions', 'clicks', 'platform_conversions', 'platform_conversion_value',
                   '_loaded_at'] -%}
with rates as (
    select rate_date, currency, rate_per_eur, _loaded_at from {{ ref('stg_ecb__rates') }}
    union all
    select rate_date, 'EUR', cast(1 as decimal(18, 6)), max(_loaded_at) from {{ ref('stg_ecb__rates') }}
    group by rate_date
),
{%- if only_missing %}
-- the currencies and days with no rate (fx_missing below), found from those two columns of the ad
-- rows alone: PostgreSQL computes a staging view's every column for each row it reads (Meta's
-- conversions parse JSON), so reading whole rows to find the few days that lack a rate cost more
-- than all the rest of the model
missing_days as (
    select distinct currency, date_day
    from ({{ union_ad_platforms('ad_daily', ['currency', 'date_day']) }}) as all_ads
    where currency <> '{{ var("reporting_currency") }}'
),
missing_rate_days as (
    {{ _rate_days('missing_days') }}
),
missing as (
    select d.currency, d.date_day
    from missing_days as d
    {{ _ad_daily_rates('d', 'missing_rate_days') }}
    where {{ _ad_daily_fx_missing('d') }}
),
{%- endif %}
ads as (
    select all_ads.* from (
    {{ union_ad_platforms('ad_daily', columns, only_partitions) }}
    ) as all_ads
    {%- if only_missing %}
    join missing on missing.currency = all_ads.currency and missing.date_day = all_ads.date_day
    {%- endif %}
),
accounts as (
    {{ union_ad_platforms('accounts', ['platform', 'account_id', 'date_day_basis', 'date_day_timezone']) }}
),
rate_days as (
    {{ _rate_days('ads') }}
)
select
    {{ _ad_daily_fx_missing('a') }} as fx_missing,
    a.platform,
    a.account_id,
    a.campaign_id,
    a.ad_group_id,
    a.ad_id,
    a.date_day,
    acc.date_day_basis,
    acc.date_day_timezone,
    -- converted in exact arithmetic and rounded once, to cents (macros/money.sql, docs/metrics.md);
    -- spend already in the reporting currency needs no rate at all
    case when a.currency = '{{ var("reporting_currency") }}' then {{ money_to_cents('a.spend_native') }}
         else {{ convert_money('a.spend_native', 'src.rate_per_eur', 'rep.rate_per_eur') }}
    end as spend,
    a.spend_native,
    a.currency,
    case when a.currency = '{{ var("reporting_currency") }}' then cast(1 as double precision)
         else cast(rep.rate_per_eur as double precision) / cast(src.rate_per_eur as double precision)
    end as fx_rate,
    case when a.currency <> '{{ var("reporting_currency") }}' then rd.rate_date end as fx_rate_date,
    a.impressions,
    a.clicks,
    a.platform_conversions,
    a.platform_conversion_value,
    -- the latest load among the row's inputs: its ad row and the rates it converts at (none in
    -- the reporting currency) (the incremental build's watermark, macros/incremental.sql)
    case when a.currency = '{{ var("reporting_currency") }}' then a._loaded_at
         else greatest(a._loaded_at, coalesce(src._loaded_at, a._loaded_at), coalesce(rep._loaded_at, a._loaded_at))
    end as _loaded_at
from ads a
left join accounts acc on acc.platform = a.platform and acc.account_id = a.account_id
{{ _ad_daily_rates('a') }}
{% endmacro %}

{# The rates a row (`row`: an alias with currency and date_day) converts at: the day's last
   publication on or before it (rd), its currency's rate (src) and the reporting currency's
   (rep) in that publication (`rate_days`: the days' publications, from _rate_days); and whether
   it lacks one it needs. Both the rows (ad_daily_fx) and the currency-days that lack a rate
   (only_missing) go through these two. #}
{% macro _ad_daily_rates(row, rate_days='rate_days') -%}
left join {{ rate_days }} rd on rd.date_day = {{ row }}.date_day
left join rates src on src.rate_date = rd.rate_date and src.currency = {{ row }}.currency
left join rates rep on rep.rate_date = rd.rate_date and rep.currency = '{{ var("reporting_currency") }}'
{%- endmacro %}

{# Each day of `days` (a relation with date_day) with the last ECB publication on or before it
   (NULL: none). A join, not a correlated subquery: PostgreSQL ran the subquery again for every
   pair of rows it joined the day's rates on (6.3M times for 12k ad rows). #}
{% macro _rate_days(days) -%}
    select d.date_day, max(p.rate_date) as rate_date
    from (select distinct date_day from {{ days }}) as d
    left join (select distinct rate_date from rates) as p on p.rate_date <= d.date_day
    group by d.date_day
{%- endmacro %}

{% macro _ad_daily_fx_missing(row) -%}
{{ row }}.currency <> '{{ var("reporting_currency") }}' and (src.rate_per_eur is null or rep.rate_per_eur is null)
{%- endmacro %}
