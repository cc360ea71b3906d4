-- one row per LinkedIn ad account; LinkedIn has no account time zone, analytics days are UTC
select
    cast('linkedin' as varchar) as platform,
    cast(id as varchar) as account_id,
    cast(name as varchar) as account_name,
    cast(upper(currency) as varchar) as currency,
    cast(null as varchar) as timezone,
    cast('utc' as varchar) as date_day_basis,
    cast('UTC' as varchar) as date_day_timezone
from {{ source('linkedin', 'linkedin__ad_accounts') }}
