-- one row per Meta campaign as listed by /act_{id}/campaigns (current name)
select
    'meta' as platform,
    cast(account_id as varchar) as account_id,
    cast(id as varchar) as campaign_id,
    name as campaign_name,
    objective,
    effective_status as status,
    cast(updated_time as timestamptz) as updated_at
from {{ source('meta', 'meta__campaigns') }}
