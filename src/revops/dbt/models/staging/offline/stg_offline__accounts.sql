-- one row: the pseudo-account 'offline'; currency of the earliest booking
with lines as ({{ offline_current_lines() }}),
ranked as (
    select
        upper(currency) as currency,
        row_number() over (
            order by cast({{ adapter.quote('date') }} as date), {{ byte_order('file_name') }},
                     cast(line_number as bigint)
        ) as rn
    from lines
)
select
    cast('offline' as varchar) as platform,
    cast('offline' as varchar) as account_id,
    cast('Offline spend' as varchar) as account_name,
    cast(currency as varchar) as currency,
    cast(null as varchar) as timezone,
    cast('calendar' as varchar) as date_day_basis,
    cast(null as varchar) as date_day_timezone
from ranked
where rn = 1
