-- one row per Google Ads ad whose URL options carry a utm_campaign: the value its clicks bring
-- to the CRM, whatever the campaign is called today (the connector decoded it from the ad's
-- final URL suffix or tracking template, else the campaign's, and turned {campaignid} into the id)
select
    cast('google_ads' as varchar) as platform,
    cast(customer_id as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(ad_group_ad_ad_id as varchar) as ad_id,
    cast(coalesce(ad_group_ad_ad_final_url_suffix, ad_group_ad_ad_tracking_url_template,
                  campaign_final_url_suffix, campaign_tracking_url_template) as varchar) as url_tags,
    trim(utm_campaign) as utm_campaign,
    {{ norm_key('utm_campaign') }} as utm_campaign_key
from {{ source('google_ads', 'google_ads__ad_url_tags') }}
where {{ norm_key('utm_campaign') }} is not null
