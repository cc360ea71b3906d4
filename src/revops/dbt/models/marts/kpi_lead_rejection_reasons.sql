-- grain: mql_cohort_month, channel, campaign_id, rejection_reason. The rejected MQLs of each
-- lead-quality cohort (marts.kpi_lead_quality: rejected_at set and never reached SQL) by reason.
with rejected as (
    select
        cast(date_trunc('month', {{ reporting_date('mql_at') }}) as date) as mql_cohort_month,
        channel,
        source_platform as platform,
        coalesce(source_campaign_id, '(none)') as campaign_id,
        coalesce(rejection_reason, '(not given)') as rejection_reason
    from {{ ref('dim_person') }}
    where mql_at is not null and rejected_at is not null and sql_at is null
),
counts as (
    select mql_cohort_month, channel, platform, campaign_id, rejection_reason, count(*) as rejected
    from rejected
    group by mql_cohort_month, channel, platform, campaign_id, rejection_reason
)
select
    c.mql_cohort_month,
    c.channel,
    c.platform,
    c.campaign_id,
    case when c.campaign_id = '(none)' then '(unattributed)' else cam.campaign_name end as campaign_name,
    c.rejection_reason,
    cast(c.rejected as bigint) as rejected,
    cast(c.rejected as double precision) / cast(
        sum(c.rejected) over (partition by c.mql_cohort_month, c.channel, c.campaign_id) as double precision
    ) as share_of_rejections,
    cast(row_number() over (
        partition by c.mql_cohort_month, c.channel, c.campaign_id
        order by c.rejected desc, {{ byte_order('c.rejection_reason') }}
    ) as bigint) as reason_rank
from counts c
left join {{ ref('dim_campaign') }} cam
  on cam.platform = c.platform and cam.campaign_id = c.campaign_id
