-- one row per Meta campaign as listed by /act_{id}/campaigns (current name)
select
    cast('meta' as varchar) as platform,
    cast(account_id as varchar) as account_id,
    cast(id as varchar) as campaign_id,
    cast(name as varchar) as campaign_name,
    cast(objective as varchar) as objective,
    cast(effective_status as varchar) as status,
    cast(updated_time as timestamptz) as updated_at
from {{ source('meta', 'meta__campaigns') }}
