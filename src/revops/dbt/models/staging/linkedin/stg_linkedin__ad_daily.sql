-- one row per creative (our ad) and UTC day. adAnalytics rows carry only the creative URN:
-- creative -> campaign (our ad group) -> campaign group (our campaign) by URN. Left joins, so
-- spend of an entity missing from the finders is kept (with null names) rather than dropped.
with analytics as (
    select * from {{ source('linkedin', 'linkedin__ad_analytics') }}
),

-- each creative (our ad) with its campaign (our ad group) and campaign group (our campaign): a
-- few hundred rows, their URNs stripped here, once each. `materialized`, as is the accounts' list:
-- PostgreSQL otherwise moved the joins under the analytics rows and stripped URNs for each of
-- them (~3 of 4 s of this view at a quarter of the large world)
ads as materialized (
    select
        cr.id as creative_urn,
        regexp_replace(cr.id, '^urn:li:[A-Za-z]+:', '') as ad_id,
        cr.name as ad_name,
        cp.ad_group_id,
        cp.name as ad_group_name,
        g.campaign_id,
        g.name as campaign_name
    from {{ source('linkedin', 'linkedin__creatives') }} as cr
    left join (
        select regexp_replace(id, '^urn:li:[A-Za-z]+:', '') as ad_group_id, name,
               regexp_replace("campaignGroup", '^urn:li:[A-Za-z]+:', '') as campaign_id
        from {{ source('linkedin', 'linkedin__campaigns') }}
    ) as cp on cp.ad_group_id = regexp_replace(cr.campaign, '^urn:li:[A-Za-z]+:', '')
    left join (
        select regexp_replace(id, '^urn:li:[A-Za-z]+:', '') as campaign_id, name
        from {{ source('linkedin', 'linkedin__campaign_groups') }}
    ) as g on g.campaign_id = cp.campaign_id
),

-- each account URN the analytics name, with its account's id and currency
accounts as materialized (
    select a.account_urn, a.account_id, upper(acc.currency) as currency
    from (
        select account_urn, regexp_replace(account_urn, '^urn:li:[A-Za-z]+:', '') as account_id
        -- the raw table, not the `analytics` CTE: a CTE read twice is materialized by PostgreSQL,
        -- whole, and a condition on this view (an incremental build's "loaded since") would no
        -- longer reach the raw rows
        from (select distinct account_urn from {{ source('linkedin', 'linkedin__ad_analytics') }}) as urns
    ) as a
    left join {{ source('linkedin', 'linkedin__ad_accounts') }} as acc on cast(acc.id as varchar) = a.account_id
)

select
    cast('linkedin' as varchar) as platform,
    cast(acc.account_id as varchar) as account_id,
    cast(ad.campaign_id as varchar) as campaign_id,
    cast(ad.campaign_name as varchar) as campaign_name,
    cast(ad.ad_group_id as varchar) as ad_group_id,
    cast(ad.ad_group_name as varchar) as ad_group_name,
    -- a creative the finders lack keeps its id (and null names)
    cast(coalesce(ad.ad_id, regexp_replace(a.pivot_value, '^urn:li:[A-Za-z]+:', '')) as varchar) as ad_id,
    cast(ad.ad_name as varchar) as ad_name,
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
left join ads as ad on ad.creative_urn = a.pivot_value
left join accounts as acc on acc.account_urn = a.account_urn
