-- one row per Google Ads customer; segments.date is a day in customer.time_zone
select
    cast('google_ads' as varchar) as platform,
    cast(customer_id as varchar) as account_id,
    cast(customer_descriptive_name as varchar) as account_name,
    cast(upper(customer_currency_code) as varchar) as currency,
    cast(customer_time_zone as varchar) as timezone,
    cast('account' as varchar) as date_day_basis,
    cast(customer_time_zone as varchar) as date_day_timezone
from {{ source('google_ads', 'google_ads__customers') }}
