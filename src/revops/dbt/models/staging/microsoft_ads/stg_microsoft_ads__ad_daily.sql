-- one row per ad and UTC day (the report's TimePeriod); every raw value is a quoted string.
-- Conversions come from ConversionsQualified (the Conversions column is 0 since 2022).
select
    cast('microsoft_ads' as varchar) as platform,
    cast("AccountId" as varchar) as account_id,
    cast("CampaignId" as varchar) as campaign_id,
    cast("CampaignName" as varchar) as campaign_name,
    cast("AdGroupId" as varchar) as ad_group_id,
    cast("AdGroupName" as varchar) as ad_group_name,
    cast("AdId" as varchar) as ad_id,
    cast(nullif("AdTitle", '') as varchar) as ad_name,
    cast("TimePeriod" as date) as date_day,
    cast(upper("CurrencyCode") as varchar) as currency,
    cast("Spend" as decimal(18, 6)) as spend_native,
    cast("Impressions" as bigint) as impressions,
    cast("Clicks" as bigint) as clicks,
    cast(coalesce(nullif("ConversionsQualified", ''), '0') as decimal(18, 6)) as platform_conversions,
    cast(coalesce(nullif("Revenue", ''), '0') as decimal(18, 6)) as platform_conversion_value,
    _loaded_at
from {{ source('microsoft_ads', 'microsoft_ads__ad_performance') }}
