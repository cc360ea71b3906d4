-- one row per Microsoft Advertising ad whose URL options carry a utm_campaign: the value its
-- clicks bring to the CRM, whatever the campaign is called today. The report repeats the ad's
-- FinalUrlSuffix / TrackingTemplate on every daily row (the connector decoded utm_campaign and
-- turned {CampaignId} into the id); the ad's latest row says what it carries now.
with ranked as (
    select
        *,
        row_number() over (
            partition by "AdId" order by "TimePeriod" desc, _loaded_at desc
        ) as rn
    from {{ source('microsoft_ads', 'microsoft_ads__ad_performance') }}
)
select
    cast('microsoft_ads' as varchar) as platform,
    cast("AccountId" as varchar) as account_id,
    cast("CampaignId" as varchar) as campaign_id,
    cast("AdId" as varchar) as ad_id,
    cast(coalesce("FinalUrlSuffix", "TrackingTemplate") as varchar) as url_tags,
    trim(utm_campaign) as utm_campaign,
    {{ norm_key('utm_campaign') }} as utm_campaign_key
from ranked
where rn = 1 and {{ norm_key('utm_campaign') }} is not null
