-- grain: mql_week, owner_id, team. Sales follow-up speed of the MQLs of a week (reporting time
-- zone, Monday start) per owner and the owner's primary team. SLA in hours from the dbt var
-- lead_response_sla_hours. Untouched MQLs are pending or missed as of the CRM data's cut-off: the
-- start of the latest pipeline run that synced a CRM stream (ops.runs/ops.run_streams), which a
-- rebuild (dbt again, no new sync) cannot move; dbt's run_started_at only when no CRM sync was
-- ever recorded (then there are no MQLs either).
{% set sla_hours = var('lead_response_sla_hours', 24) %}
with cutoff as (
    select as_of from {{ ref('int_crm_as_of') }}
),
owners as (
    select owner_id, owner_name, team from {{ ref('dim_owner') }}
),
mqls as (
    select
        {{ week_start(reporting_date('c.mql_at')) }} as mql_week,
        coalesce(c.owner_id, '(none)') as owner_id,
        o.owner_name,
        coalesce(o.team, '(none)') as team,
        c.first_sales_touch_at,
        -- a touch logged before the MQL moment means sales was already on it: 0 hours, not negative
        -- (CASE, not greatest(): PostgreSQL's greatest() ignores NULL and would make untouched 0 h)
        case
            when c.first_sales_touch_at < c.mql_at then 0
            else {{ epoch_seconds_between('c.mql_at', 'c.first_sales_touch_at') }} / 3600
        end as hours_to_first_touch,
        {{ epoch_seconds_between('c.mql_at', 'k.as_of') }} / 3600 as hours_since_mql
    from {{ ref('dim_person') }} c
    cross join cutoff k
    left join owners o on o.owner_id = c.owner_id
    where c.mql_at is not null
),
flagged as (
    select
        mql_week, owner_id, owner_name, team, hours_to_first_touch,
        case when first_sales_touch_at is not null then 1 else 0 end as is_touched,
        case when hours_to_first_touch <= {{ sla_hours }} then 1 else 0 end as is_within_sla,
        case when hours_to_first_touch > {{ sla_hours }}
               or (first_sales_touch_at is null and hours_since_mql > {{ sla_hours }})
             then 1 else 0 end as is_missed_sla,
        case when first_sales_touch_at is null and hours_since_mql <= {{ sla_hours }}
             then 1 else 0 end as is_pending
    from mqls
),
grouped as (
    select
        mql_week,
        owner_id,
        owner_name,
        team,
        count(*) as mqls,
        sum(is_touched) as touched,
        {{ percentile_continuous('hours_to_first_touch', 0.5) }} as median_hours_to_first_touch,
        {{ percentile_continuous('hours_to_first_touch', 0.9) }} as p90_hours_to_first_touch,
        sum(is_within_sla) as within_sla,
        sum(is_missed_sla) as missed_sla,
        sum(is_pending) as pending
    from flagged
    group by mql_week, owner_id, owner_name, team
)
select
    mql_week,
    owner_id,
    owner_name,
    team,
    cast(mqls as bigint) as mqls,
    cast(touched as bigint) as touched,
    cast(median_hours_to_first_touch as double precision) as median_hours_to_first_touch,
    cast(p90_hours_to_first_touch as double precision) as p90_hours_to_first_touch,
    cast(within_sla as bigint) as within_sla,
    cast(missed_sla as bigint) as missed_sla,
    cast(pending as bigint) as pending,
    cast(within_sla as double precision) / nullif(within_sla + missed_sla, 0) as share_within_sla,
    (select as_of from cutoff) as as_of
from grouped
