-- one row per ad and account-local day (Insights level=ad, time_increment=1);
-- numbers arrive as decimal strings, conversions as the configured action type
select
    'meta' as platform,
    cast(account_id as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    campaign_name,
    cast(adset_id as varchar) as ad_group_id,
    adset_name as ad_group_name,
    cast(ad_id as varchar) as ad_id,
    ad_name,
    cast(date_start as date) as date_day,
    upper(account_currency) as currency,
    cast(spend as decimal(18, 6)) as spend_native,
    cast(impressions as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    cast(coalesce({{ meta_action_value('actions', var('meta_lead_action_type')) }}, 0) as decimal(18, 6)) as platform_conversions,
    cast(coalesce({{ meta_action_value('action_values', var('meta_lead_action_type')) }}, 0) as decimal(18, 6)) as platform_conversion_value,
    _loaded_at
from {{ source('meta', 'meta__ads_insights') }}
