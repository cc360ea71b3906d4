select
    cast(id as varchar) as campaign_id,
    cast(account_id as varchar) as account_id,
    name as campaign_name,
    objective,
    status,
    effective_status,
    cast(updated_time as timestamptz) as updated_at
from {{ source('raw', 'meta__campaigns') }}
