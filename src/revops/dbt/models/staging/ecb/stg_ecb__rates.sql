-- one row per ECB publication day and currency; rates arrive as decimal text (no N/A rows)
select
    cast(rate_date as date) as rate_date,
    cast(upper(trim(currency)) as varchar) as currency,
    cast(rate as decimal(18, 6)) as rate_per_eur,
    _loaded_at
from {{ source('ecb', 'ecb__rates') }}
where rate is not null
