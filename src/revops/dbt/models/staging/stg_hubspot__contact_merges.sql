-- merged-away contact id -> the surviving contact id (from the survivor's hs_merged_object_ids)
with merged as (
    select contact_id as survivor_id, trim({{ unnest_split('merged_object_ids') }}) as merged_id
    from {{ ref('stg_hubspot__contacts') }}
    where merged_object_ids is not null
)
select merged_id, min(survivor_id) as survivor_id
from merged
where merged_id <> '' and merged_id <> survivor_id
group by merged_id
