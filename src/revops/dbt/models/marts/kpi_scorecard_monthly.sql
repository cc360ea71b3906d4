-- grain: month (reporting time zone; spend by the ad account's day). One row per month from the
-- first to the last month with any activity, months without activity included (zeros).
{%- set counts = ['leads', 'paid_leads', 'mqls', 'sqls', 'opportunities', 'customers', 'won_deals', 'lost_deals'] %}
{%- set money = ['spend', 'pipeline_created', 'revenue_won'] %}
{%- set rates = ['cost_per_paid_lead', 'mql_to_sql_rate', 'win_rate', 'cac', 'roas'] %}
with contacts as (select * from {{ ref('dim_person') }}),  -- people, not CRM records
deals as (select * from {{ ref('fct_deal') }}),
events as (
    select cast(date_trunc('month', date_day) as date) as month, 'spend' as measure,
           cast(spend as decimal(18, 2)) as value
    from {{ ref('fct_ad_daily') }}
    {%- for ts, measure in [('lead_at', 'leads'), ('mql_at', 'mqls'), ('sql_at', 'sqls'),
                            ('opportunity_at', 'opportunities'), ('customer_at', 'customers')] %}
    union all
    select cast(date_trunc('month', {{ reporting_date(ts) }}) as date), '{{ measure }}', 1
    from contacts where {{ ts }} is not null
    {%- endfor %}
    union all
    select cast(date_trunc('month', {{ reporting_date('lead_at') }}) as date), 'paid_leads', 1
    from contacts where lead_at is not null and source_campaign_id is not null
    union all
    select cast(date_trunc('month', {{ reporting_date('created_at') }}) as date), 'pipeline_created', amount
    from deals where amount is not null
    union all
    select cast(date_trunc('month', {{ reporting_date('closed_at') }}) as date),
           case when is_won then 'won_deals' else 'lost_deals' end, 1
    from deals where is_closed
    union all
    select cast(date_trunc('month', {{ reporting_date('closed_at') }}) as date), 'revenue_won', amount
    from deals where is_won and amount is not null
),
bounds as (select min(month) as first_month, max(month) as last_month from events),
months as (
    select {{ month_series('first_month', 'last_month') }} as month from bounds
),
totals as (
    select
        m.month
        {%- for c in counts + money %},
        coalesce(sum(case when e.measure = '{{ c }}' then e.value end), 0) as {{ c }}
        {%- endfor %}
    from months m
    left join events e on e.month = m.month
    group by m.month
),
headline as (
    select
        month,
        {%- for c in counts %}
        cast({{ c }} as bigint) as {{ c }},
        {%- endfor %}
        cast(spend as decimal(18, 2)) as spend,
        cast(pipeline_created as decimal(18, 2)) as pipeline_created,
        cast(revenue_won as decimal(18, 2)) as revenue_won,
        cast(spend as double precision) / nullif(paid_leads, 0) as cost_per_paid_lead,
        cast(sqls as double precision) / nullif(mqls, 0) as mql_to_sql_rate,
        cast(won_deals as double precision) / nullif(won_deals + lost_deals, 0) as win_rate,
        cast(spend as double precision) / nullif(customers, 0) as cac,
        cast(revenue_won as double precision) / nullif(cast(spend as double precision), 0) as roas
    from totals
)
select
    h.*
    {%- for c in counts + money + rates %},
    cast(h.{{ c }} as double precision) / nullif(cast(p.{{ c }} as double precision), 0) - 1 as {{ c }}_change
    {%- endfor %}
from headline h
left join headline p on p.month = cast(h.month - interval '1 month' as date)
