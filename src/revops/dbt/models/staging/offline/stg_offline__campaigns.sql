-- one row per offline campaign; name and channel from its latest booking line
with lines as ({{ offline_current_lines() }}),
ranked as (
    select
        campaign_id,
        campaign,
        channel,
        row_number() over (
            partition by campaign_id
            order by cast({{ adapter.quote('date') }} as date) desc, {{ byte_order('file_name') }} desc,
                     cast(line_number as bigint) desc
        ) as rn
    from lines
)
select
    cast('offline' as varchar) as platform,
    cast('offline' as varchar) as account_id,
    cast(campaign_id as varchar) as campaign_id,
    cast(campaign as varchar) as campaign_name,
    cast(channel as varchar) as objective,
    cast(null as varchar) as status,
    cast(null as timestamptz) as updated_at
from ranked
where rn = 1
