-- one row per Meta ad account; Insights days are in the account's own time zone
select
    'meta' as platform,
    cast(account_id as varchar) as account_id,
    name as account_name,
    upper(currency) as currency,
    timezone_name as timezone,
    'account' as date_day_basis,
    timezone_name as date_day_timezone
from {{ source('meta', 'meta__ad_accounts') }}
