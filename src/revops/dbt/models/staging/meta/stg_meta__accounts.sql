-- one row per Meta ad account; Insights days are in the account's own time zone
select
    cast('meta' as varchar) as platform,
    cast(account_id as varchar) as account_id,
    cast(name as varchar) as account_name,
    cast(upper(currency) as varchar) as currency,
    cast(timezone_name as varchar) as timezone,
    cast('account' as varchar) as date_day_basis,
    cast(timezone_name as varchar) as date_day_timezone
from {{ source('meta', 'meta__ad_accounts') }}
