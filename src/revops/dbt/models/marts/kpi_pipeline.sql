-- grain: month, pipeline, channel. Every month (reporting time zone) from the first deal creation
-- month to the last month with any deal event (creation or close), for every pipeline x channel
-- that has a deal; channel of the deal's contact ('other' without one). Amounts in the deal
-- currency, which is the reporting currency in a single-currency portal.
with deals as (
    select
        d.deal_id,
        coalesce(d.pipeline, '(none)') as pipeline,
        coalesce(c.channel, 'other') as channel,
        d.amount,
        d.is_won,
        {{ month_start(reporting_date('d.created_at')) }} as created_month,
        case when d.closed_at is not null then {{ month_start(reporting_date('d.closed_at')) }} end as closed_month,
        case when d.is_won and d.closed_at is not null
             then {{ epoch_seconds_between('d.created_at', 'd.closed_at') }} / 86400 end as cycle_days
    from {{ ref('fct_deal') }} d
    left join {{ ref('dim_contact') }} dc on dc.contact_id = d.contact_id
    left join {{ ref('dim_person') }} c on c.person_key = dc.person_key
    where d.created_at is not null
),
bounds as (
    select min(created_month) as first_month,
           max(coalesce(case when closed_month > created_month then closed_month end, created_month)) as last_month
    from deals
),
months as (
    select {{ month_series('first_month', 'last_month') }} as month from bounds
),
segments as (
    select distinct pipeline, channel from deals
),
spine as (
    select m.month, s.pipeline, s.channel from months m cross join segments s
),
created as (
    select created_month as month, pipeline, channel,
           count(*) as deals_created, sum(amount) as pipeline_created
    from deals
    group by created_month, pipeline, channel
),
closed as (
    select closed_month as month, pipeline, channel,
           sum(case when is_won then 1 else 0 end) as won_deals,
           sum(case when is_won then amount else 0 end) as won_amount,
           sum(case when is_won then 0 else 1 end) as lost_deals,
           sum(case when is_won then 0 else amount end) as lost_amount,
           avg(cycle_days) as avg_sales_cycle_days
    from deals
    where closed_month is not null
    group by closed_month, pipeline, channel
),
open_end as (
    select s.month, s.pipeline, s.channel,
           count(*) as open_deals_end, sum(d.amount) as open_pipeline_end
    from spine s
    join deals d
      on d.pipeline = s.pipeline and d.channel = s.channel
     and d.created_month <= s.month and (d.closed_month is null or d.closed_month > s.month)
    group by s.month, s.pipeline, s.channel
),
joined as (
    select
        s.month,
        s.pipeline,
        s.channel,
        coalesce(cr.deals_created, 0) as deals_created,
        coalesce(cr.pipeline_created, 0) as pipeline_created,
        coalesce(o.open_deals_end, 0) as open_deals_end,
        coalesce(o.open_pipeline_end, 0) as open_pipeline_end,
        coalesce(cl.won_deals, 0) as won_deals,
        coalesce(cl.won_amount, 0) as won_amount,
        coalesce(cl.lost_deals, 0) as lost_deals,
        coalesce(cl.lost_amount, 0) as lost_amount,
        cl.avg_sales_cycle_days
    from spine s
    left join created cr on cr.month = s.month and cr.pipeline = s.pipeline and cr.channel = s.channel
    left join closed cl on cl.month = s.month and cl.pipeline = s.pipeline and cl.channel = s.channel
    left join open_end o on o.month = s.month and o.pipeline = s.pipeline and o.channel = s.channel
),
rates as (
    select
        j.*,
        cast(won_deals as double precision) / nullif(won_deals + lost_deals, 0) as win_rate,
        cast(won_amount as double precision) / nullif(cast(won_amount + lost_amount as double precision), 0)
            as win_rate_amount,
        cast(won_amount as double precision) / nullif(won_deals, 0) as avg_won_amount
    from joined j
)
select
    month,
    pipeline,
    channel,
    cast(deals_created as bigint) as deals_created,
    cast(pipeline_created as decimal(18, 2)) as pipeline_created,
    cast(open_deals_end as bigint) as open_deals_end,
    cast(open_pipeline_end as decimal(18, 2)) as open_pipeline_end,
    cast(won_deals as bigint) as won_deals,
    cast(won_amount as decimal(18, 2)) as won_amount,
    cast(lost_deals as bigint) as lost_deals,
    cast(lost_amount as decimal(18, 2)) as lost_amount,
    win_rate,
    win_rate_amount,
    avg_won_amount,
    cast(avg_sales_cycle_days as double precision) as avg_sales_cycle_days,
    open_deals_end * win_rate * avg_won_amount / nullif(avg_sales_cycle_days, 0) as pipeline_velocity
from rates
