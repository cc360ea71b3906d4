-- one row per ad and customer-local day. Google omits zero metrics (null here = 0);
-- cost arrives in micros of the customer's currency: exact decimal arithmetic, no float
select
    cast('google_ads' as varchar) as platform,
    cast(customer_id as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(campaign_name as varchar) as campaign_name,
    cast(ad_group_id as varchar) as ad_group_id,
    cast(ad_group_name as varchar) as ad_group_name,
    cast(ad_group_ad_ad_id as varchar) as ad_id,
    cast(ad_group_ad_ad_name as varchar) as ad_name,
    cast(segments_date as date) as date_day,
    cast(upper(customer_currency_code) as varchar) as currency,
    cast(
        cast(coalesce(metrics_cost_micros, '0') as decimal(24, 0)) * cast(0.000001 as decimal(7, 6))
        as decimal(18, 6)
    ) as spend_native,
    cast(coalesce(metrics_impressions, '0') as bigint) as impressions,
    cast(coalesce(metrics_clicks, '0') as bigint) as clicks,
    -- doubles on the wire (1.5, or 1e-05 for tiny fractional credit): parse as double first
    cast(cast(coalesce(metrics_conversions, '0') as double precision) as decimal(18, 6)) as platform_conversions,
    cast(cast(coalesce(metrics_conversions_value, '0') as double precision) as decimal(18, 6)) as platform_conversion_value,
    _loaded_at
from {{ source('google_ads', 'google_ads__ad_group_ad_daily') }}
