-- grain: source (one row per source the pipeline has attempted)
-- is_stale: the last attempt failed, or the last success is older than
-- freshness_max_age_hours before the newest attempt of any source (a source no longer run)
with freshness as (
    select * from {{ ref('stg_ops__source_freshness') }}
)
select
    source,
    kind,
    last_success_at,
    last_attempt_at,
    status,
    case
        when status <> 'fresh' then true
        when last_success_at < max(last_attempt_at) over ()
            - interval '{{ var("freshness_max_age_hours", 36) }} hours' then true
        else false
    end as is_stale,
    error,
    rows_last_success,
    last_run_id
from freshness
