-- one row per creative (our ad) and UTC day. adAnalytics rows carry only the creative URN:
-- creative -> campaign (our ad group) -> campaign group (our campaign) by URN. Left joins, so
-- spend of an entity missing from the finders is kept (with null names) rather than dropped.
with analytics as (
    select * from {{ source('linkedin', 'linkedin__ad_analytics') }}
),

creatives as (
    select
        id as creative_urn,
        regexp_replace(id, '^urn:li:[A-Za-z]+:', '') as ad_id,
        name as ad_name,
        regexp_replace(campaign, '^urn:li:[A-Za-z]+:', '') as ad_group_id
    from {{ source('linkedin', 'linkedin__creatives') }}
),

campaigns as (
    select
        regexp_replace(id, '^urn:li:[A-Za-z]+:', '') as ad_group_id,
        name as ad_group_name,
        regexp_replace("campaignGroup", '^urn:li:[A-Za-z]+:', '') as campaign_id
    from {{ source('linkedin', 'linkedin__campaigns') }}
),

groups as (
    select
        regexp_replace(id, '^urn:li:[A-Za-z]+:', '') as campaign_id,
        name as campaign_name
    from {{ source('linkedin', 'linkedin__campaign_groups') }}
),

accounts as (
    select cast(id as varchar) as account_id, upper(currency) as currency
    from {{ source('linkedin', 'linkedin__ad_accounts') }}
)

select
    cast('linkedin' as varchar) as platform,
    cast(regexp_replace(a.account_urn, '^urn:li:[A-Za-z]+:', '') as varchar) as account_id,
    cast(cp.campaign_id as varchar) as campaign_id,
    cast(g.campaign_name as varchar) as campaign_name,
    cast(cr.ad_group_id as varchar) as ad_group_id,
    cast(cp.ad_group_name as varchar) as ad_group_name,
    cast(regexp_replace(a.pivot_value, '^urn:li:[A-Za-z]+:', '') as varchar) as ad_id,
    cast(cr.ad_name as varchar) as ad_name,
    cast(a.date_start as date) as date_day,
    cast(acc.currency as varchar) as currency,
    -- "107.5300000000000335346": float noise that rounds away at 6 places
    cast(a."costInLocalCurrency" as decimal(18, 6)) as spend_native,
    cast(a.impressions as bigint) as impressions,
    cast(a.clicks as bigint) as clicks,
    cast(coalesce(a."externalWebsiteConversions", '0') as decimal(18, 6)) as platform_conversions,
    cast(coalesce(a."conversionValueInLocalCurrency", '0') as decimal(18, 6)) as platform_conversion_value,
    a._loaded_at
from analytics as a
left join creatives as cr on cr.creative_urn = a.pivot_value
left join campaigns as cp on cp.ad_group_id = cr.ad_group_id
left join groups as g on g.campaign_id = cp.campaign_id
left join accounts as acc on acc.account_id = regexp_replace(a.account_urn, '^urn:li:[A-Za-z]+:', '')
