-- one row per Meta ad whose creative's url_tags carry a utm_campaign: the value its clicks bring
-- to the CRM, whatever the campaign is called today (the connector decoded it from url_tags and
-- turned the campaign-id macro into the ad's campaign id)
select
    cast('meta' as varchar) as platform,
    cast(account_id as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(id as varchar) as ad_id,
    cast(url_tags as varchar) as url_tags,
    trim(utm_campaign) as utm_campaign,
    {{ norm_key('utm_campaign') }} as utm_campaign_key
from {{ source('meta', 'meta__ads') }}
where {{ norm_key('utm_campaign') }} is not null
