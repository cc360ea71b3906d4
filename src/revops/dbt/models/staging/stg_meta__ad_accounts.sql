select
    cast(account_id as varchar) as account_id,
    name as account_name,
    upper(currency) as currency,
    timezone_name as timezone,
    account_status
from {{ source('raw', 'meta__ad_accounts') }}
