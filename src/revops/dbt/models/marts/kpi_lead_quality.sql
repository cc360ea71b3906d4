-- grain: mql_cohort_month, channel, campaign_id. A cohort is the people (core.dim_person) whose mql_at falls in
-- the month (reporting time zone); sales' decision on each as of the run: accepted (reached SQL,
-- which wins over a rejection), rejected (rejected_at set, never reached SQL) or pending.
with mqls as (
    select
        cast(date_trunc('month', {{ reporting_date('mql_at') }}) as date) as mql_cohort_month,
        channel,
        source_platform as platform,
        coalesce(source_campaign_id, '(none)') as campaign_id,
        case
            when sql_at is not null then 'accepted'
            when rejected_at is not null then 'rejected'
            else 'pending'
        end as decision,
        coalesce(rejection_reason, '(not given)') as rejection_reason
    from {{ ref('dim_person') }}
    where mql_at is not null
),
cohorts as (
    select
        mql_cohort_month, channel, platform, campaign_id,
        count(*) as mqls,
        sum(case when decision = 'accepted' then 1 else 0 end) as accepted,
        sum(case when decision = 'rejected' then 1 else 0 end) as rejected,
        sum(case when decision = 'pending' then 1 else 0 end) as pending
    from mqls
    group by mql_cohort_month, channel, platform, campaign_id
),
reasons as (  -- the same ranking as marts.kpi_lead_rejection_reasons
    select
        mql_cohort_month, channel, campaign_id, rejection_reason,
        row_number() over (
            partition by mql_cohort_month, channel, campaign_id
            order by count(*) desc, {{ byte_order('rejection_reason') }}
        ) as reason_rank
    from mqls
    where decision = 'rejected'
    group by mql_cohort_month, channel, campaign_id, rejection_reason
)
select
    c.mql_cohort_month,
    c.channel,
    c.platform,
    c.campaign_id,
    case when c.campaign_id = '(none)' then '(unattributed)' else cam.campaign_name end as campaign_name,
    cast(c.mqls as bigint) as mqls,
    cast(c.accepted as bigint) as accepted,
    cast(c.rejected as bigint) as rejected,
    cast(c.pending as bigint) as pending,
    cast(c.rejected as double precision) / nullif(c.accepted + c.rejected, 0) as rejection_rate,
    cast(c.accepted as double precision) / nullif(c.mqls, 0) as acceptance_rate,
    r.rejection_reason as top_rejection_reason
from cohorts c
left join reasons r
  on r.mql_cohort_month = c.mql_cohort_month and r.channel = c.channel
 and r.campaign_id = c.campaign_id and r.reason_rank = 1
left join {{ ref('dim_campaign') }} cam
  on cam.platform = c.platform and cam.campaign_id = c.campaign_id
