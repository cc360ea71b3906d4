-- one row per Google Ads campaign with its current name; the API gives no update time
select
    cast('google_ads' as varchar) as platform,
    cast(customer_id as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(campaign_name as varchar) as campaign_name,
    cast(campaign_advertising_channel_type as varchar) as objective,
    cast(campaign_status as varchar) as status,
    cast(null as timestamptz) as updated_at
from {{ source('google_ads', 'google_ads__campaigns') }}
