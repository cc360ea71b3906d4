-- grain: source. The pipeline's freshness bookkeeping (written before dbt runs), typed as marts read it
select
    source,
    kind,
    last_success_at,
    last_attempt_at,
    last_run_id,
    rows_last_success,
    status,
    error
from {{ source('ops', 'source_freshness') }}
