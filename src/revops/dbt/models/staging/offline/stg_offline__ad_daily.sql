-- one row per campaign, booking date and currency: the current lines' amounts summed
with lines as ({{ offline_current_lines() }}),
daily as (
    select
        campaign_id,
        cast({{ adapter.quote('date') }} as date) as date_day,
        upper(currency) as currency,
        sum(cast(amount as decimal(18, 6))) as spend_native,
        -- a line's or its file's load, whichever is later (a file re-listed counts)
        max(greatest(_loaded_at, _file_loaded_at)) as _loaded_at
    from lines
    group by campaign_id, cast({{ adapter.quote('date') }} as date), upper(currency)
)
select
    cast('offline' as varchar) as platform,
    cast('offline' as varchar) as account_id,
    cast(d.campaign_id as varchar) as campaign_id,
    c.campaign_name,
    cast(null as varchar) as ad_group_id,
    cast(null as varchar) as ad_group_name,
    cast(null as varchar) as ad_id,
    cast(null as varchar) as ad_name,
    d.date_day,
    cast(d.currency as varchar) as currency,
    cast(d.spend_native as decimal(18, 6)) as spend_native,
    cast(0 as bigint) as impressions,
    cast(0 as bigint) as clicks,
    cast(0 as decimal(18, 6)) as platform_conversions,
    cast(0 as decimal(18, 6)) as platform_conversion_value,
    d._loaded_at
from daily d
left join {{ ref('stg_offline__campaigns') }} c on c.campaign_id = d.campaign_id
