-- one row per ad and account-local day (Insights level=ad, time_increment=1);
-- numbers arrive as decimal strings, conversions as the configured action type
-- (text columns cast to varchar, as every platform's: PostgreSQL pushes a condition on a column of
-- their union into each platform's select only when all give it the same type)
select
    cast('meta' as varchar) as platform,
    cast(account_id as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(campaign_name as varchar) as campaign_name,
    cast(adset_id as varchar) as ad_group_id,
    cast(adset_name as varchar) as ad_group_name,
    cast(ad_id as varchar) as ad_id,
    cast(ad_name as varchar) as ad_name,
    cast(date_start as date) as date_day,
    cast(upper(account_currency) as varchar) as currency,
    cast(spend as decimal(18, 6)) as spend_native,
    cast(impressions as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    cast(coalesce({{ meta_action_value('actions', var('meta_lead_action_type')) }}, 0) as decimal(18, 6)) as platform_conversions,
    cast(coalesce({{ meta_action_value('action_values', var('meta_lead_action_type')) }}, 0) as decimal(18, 6)) as platform_conversion_value,
    _loaded_at
from {{ source('meta', 'meta__ads_insights') }}
