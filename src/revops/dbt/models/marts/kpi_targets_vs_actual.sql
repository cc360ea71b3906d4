-- grain: month x channel x metric. A row exists when a target or an actual exists.
with contacts as (select * from {{ ref('dim_person') }}),  -- people, not CRM records
deals as (  -- a deal takes its person's channel
    select d.*, coalesce(c.channel, 'other') as channel
    from {{ ref('fct_deal') }} d
    left join {{ ref('dim_contact') }} dc on dc.contact_id = d.contact_id
    left join contacts c on c.person_key = dc.person_key
),
actual_events as (
    select cast(date_trunc('month', {{ reporting_date('mql_at') }}) as date) as month, channel,
           'mqls' as metric, cast(1 as decimal(18, 2)) as value
    from contacts where mql_at is not null
    union all
    select cast(date_trunc('month', {{ reporting_date('sql_at') }}) as date), channel, 'sqls', 1
    from contacts where sql_at is not null
    union all
    select cast(date_trunc('month', {{ reporting_date('created_at') }}) as date), channel, 'pipeline', amount
    from deals where amount is not null
    union all
    select cast(date_trunc('month', {{ reporting_date('closed_at') }}) as date), channel, 'revenue', amount
    from deals where is_won and amount is not null
),
actuals as (
    select month, channel, metric, sum(value) as actual
    from actual_events group by month, channel, metric
),
targets as (
    select cast(month as date) as month, channel, metric, cast(target as decimal(18, 2)) as target
    from {{ ref('targets') }}
)
select
    coalesce(t.month, a.month) as month,
    coalesce(t.channel, a.channel) as channel,
    coalesce(t.metric, a.metric) as metric,
    t.target,
    cast(coalesce(a.actual, 0) as decimal(18, 2)) as actual,
    cast(coalesce(a.actual, 0) as double precision) / nullif(t.target, 0) as attainment
from targets t
full outer join actuals a on a.month = t.month and a.channel = t.channel and a.metric = t.metric
