-- one row per Microsoft Advertising campaign; the API gives no modification time
select
    cast('microsoft_ads' as varchar) as platform,
    cast("AccountId" as varchar) as account_id,
    cast("Id" as varchar) as campaign_id,
    cast("Name" as varchar) as campaign_name,
    cast("CampaignType" as varchar) as objective,
    cast("Status" as varchar) as status,
    cast(null as timestamptz) as updated_at
from {{ source('microsoft_ads', 'microsoft_ads__campaigns') }}
