-- one row: the instant the warehouse's CRM data is as of (the start of the latest pipeline run
-- that synced a CRM stream). A rebuild without a new sync leaves it; dbt's run_started_at only
-- when no CRM sync was ever recorded.
select coalesce(
    (select max(r.started_at) from {{ source('ops', 'runs') }} r
      where exists (select 1 from {{ source('ops', 'run_streams') }} s
                     where s.run_id = r.run_id and s.source in ('hubspot', 'salesforce'))),
    {{ run_started_ts() }}
) as as_of
