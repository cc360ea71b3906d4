-- one row per deal pipeline stage. Won/lost come from the stage's metadata (isClosed and
-- probability, strings as HubSpot sends them), never from its id or label: portals relabel
-- 'closedwon' at will and custom stages have numeric ids.
with stages as (
    select
        cast(pipeline_id as varchar) as pipeline_id,
        pipeline_label,
        cast(stage_id as varchar) as stage_id,
        stage_label,
        stage_display_order as display_order,
        coalesce(lower(nullif(is_closed, '')) = 'true', false) as is_closed,
        cast(nullif(probability, '') as double precision) as probability,
        coalesce(stage_archived, false) or coalesce(pipeline_archived, false) as is_archived
    from {{ source('raw', 'hubspot__deal_pipelines') }}
)
select
    pipeline_id,
    pipeline_label,
    stage_id,
    stage_label,
    display_order,
    is_closed,
    probability,
    is_closed and coalesce(probability >= 1, false) as is_won,
    is_closed and not coalesce(probability >= 1, false) as is_lost,
    is_archived
from stages
