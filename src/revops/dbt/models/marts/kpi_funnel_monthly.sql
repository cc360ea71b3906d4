-- grain: cohort_month, channel, campaign_id. A cohort is the people (core.dim_person) whose lead_at falls in the
-- month (reporting time zone); each stage count is how many of them have reached the stage by
-- the run. Every (channel, campaign) that ever had a lead gets a row for every month from the
-- first to the last cohort month, zeros where it had no leads.
with leads as (
    select
        cast(date_trunc('month', {{ reporting_date('lead_at') }}) as date) as cohort_month,
        channel,
        source_platform as platform,
        coalesce(source_campaign_id, '(none)') as campaign_id,
        mql_at,
        sql_at,
        opportunity_at,
        customer_at,
        -- stage-to-stage durations in days, where the contact has both stage times
        {{ epoch_seconds_between('lead_at', 'mql_at') }} / 86400.0
            as days_lead_to_mql,
        {{ epoch_seconds_between('mql_at', 'sql_at') }} / 86400.0
            as days_mql_to_sql,
        {{ epoch_seconds_between('sql_at', 'opportunity_at') }} / 86400.0
            as days_sql_to_opportunity,
        {{ epoch_seconds_between('opportunity_at', 'customer_at') }} / 86400.0
            as days_opportunity_to_customer
    from {{ ref('dim_person') }}
    where lead_at is not null
),
cohorts as (
    select
        cohort_month, channel, platform, campaign_id,
        count(*) as leads,
        count(mql_at) as mqls,
        count(sql_at) as sqls,
        count(opportunity_at) as opportunities,
        count(customer_at) as customers,
        -- conversions: contacts of the cohort that reached both stages of the step
        count(days_mql_to_sql) as mql_and_sql,
        count(days_sql_to_opportunity) as sql_and_opportunity,
        count(days_opportunity_to_customer) as opportunity_and_customer,
        percentile_cont(0.5) within group (order by days_lead_to_mql) as median_days_lead_to_mql,
        percentile_cont(0.5) within group (order by days_mql_to_sql) as median_days_mql_to_sql,
        percentile_cont(0.5) within group (order by days_sql_to_opportunity) as median_days_sql_to_opportunity,
        percentile_cont(0.5) within group (order by days_opportunity_to_customer)
            as median_days_opportunity_to_customer
    from leads
    group by cohort_month, channel, platform, campaign_id
),
months as (  -- every month from the first to the last cohort month (none when no cohort)
    select {{ month_series('first_month', 'last_month') }} as cohort_month
    from (select min(cohort_month) as first_month, max(cohort_month) as last_month from cohorts) as b
    where b.first_month is not null
),
series as (  -- every (channel, campaign) that appears at all
    select distinct channel, platform, campaign_id from cohorts
),
spine as (
    select m.cohort_month, s.channel, s.platform, s.campaign_id
    from months m
    cross join series s
)
select
    sp.cohort_month,
    sp.channel,
    sp.platform,
    sp.campaign_id,
    case when sp.campaign_id = '(none)' then '(unattributed)' else cam.campaign_name end as campaign_name,
    cast(coalesce(c.leads, 0) as bigint) as leads,
    cast(coalesce(c.mqls, 0) as bigint) as mqls,
    cast(coalesce(c.sqls, 0) as bigint) as sqls,
    cast(coalesce(c.opportunities, 0) as bigint) as opportunities,
    cast(coalesce(c.customers, 0) as bigint) as customers,
    cast(c.mqls as double precision) / nullif(c.leads, 0) as lead_to_mql_rate,
    cast(c.mql_and_sql as double precision) / nullif(c.mqls, 0) as mql_to_sql_rate,
    cast(c.sql_and_opportunity as double precision) / nullif(c.sqls, 0) as sql_to_opportunity_rate,
    cast(c.opportunity_and_customer as double precision) / nullif(c.opportunities, 0)
        as opportunity_to_customer_rate,
    cast(c.median_days_lead_to_mql as double precision) as median_days_lead_to_mql,
    cast(c.median_days_mql_to_sql as double precision) as median_days_mql_to_sql,
    cast(c.median_days_sql_to_opportunity as double precision) as median_days_sql_to_opportunity,
    cast(c.median_days_opportunity_to_customer as double precision) as median_days_opportunity_to_customer
from spine sp
left join cohorts c
  on c.cohort_month = sp.cohort_month and c.channel = sp.channel and c.campaign_id = sp.campaign_id
left join {{ ref('dim_campaign') }} cam
  on cam.platform = sp.platform and cam.campaign_id = sp.campaign_id
