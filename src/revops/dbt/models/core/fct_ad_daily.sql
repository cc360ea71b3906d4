-- grain: platform, account_id, campaign_id, ad_group_id, ad_id, date_day (the account's own day)
with fx as (select currency, rate_per_eur from {{ ref('fx_rates_fixed') }}),
rep as (select rate_per_eur from fx where currency = '{{ var("reporting_currency") }}')
select
    'meta' as platform,
    i.account_id,
    i.campaign_id,
    i.ad_group_id,
    i.ad_id,
    i.date_day,
    'account' as date_day_basis,
    a.timezone as date_day_timezone,
    cast(i.spend_native as double precision) / fx.rate_per_eur * rep.rate_per_eur as spend,
    i.spend_native,
    coalesce(i.currency, a.currency) as currency,
    cast(rep.rate_per_eur as double precision) / fx.rate_per_eur as fx_rate,
    i.impressions,
    i.clicks,
    i.platform_conversions,
    i.platform_conversion_value
from {{ ref('stg_meta__ads_insights') }} i
left join {{ ref('stg_meta__ad_accounts') }} a on a.account_id = i.account_id
left join fx on fx.currency = coalesce(i.currency, a.currency)
cross join rep
