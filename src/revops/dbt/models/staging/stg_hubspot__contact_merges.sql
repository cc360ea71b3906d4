-- every HubSpot contact id a merge retired -> the id of the record that stands for the person now.
-- A merge mints a NEW id: the new record lists every id it replaces (the primary's old id, the
-- duplicate's, the ids of earlier merged records) in hs_merged_object_ids [crm.md "Merges"].
-- Raw keeps every row ever loaded, under old ids too, so the edges come from all of them and are
-- followed transitively: a merged record merged again later resolves to the last one (the chain
-- Fivetran's calculated_merged_vids misses, fivetran/dbt_hubspot#168).
with recursive edges as (
    select distinct merged_id, into_id
    from (
        select trim({{ unnest_split('merged_object_ids') }}) as merged_id, contact_id as into_id
        from {{ ref('stg_hubspot__contacts') }}
        where merged_object_ids is not null
    ) listed
    where merged_id <> '' and merged_id <> into_id
),
walk as (
    select merged_id as start_id, into_id as current_id, 1 as depth
    from edges
    union all
    select w.start_id, e.into_id, w.depth + 1
    from walk w
    join edges e on e.merged_id = w.current_id
    where w.depth < 50  -- a cycle in bad data must not recurse forever
),
terminal as (
    -- ids reached that no merge retired: a live (or deleted) final record
    select start_id, current_id, depth,
        row_number() over (
            partition by start_id order by depth desc, {{ byte_order('current_id') }}
        ) as rn
    from walk w
    -- an anti join, not "not in (select ...)" (core.int_contact_people says why)
    where not exists (select 1 from edges e where e.merged_id = w.current_id)
)
select start_id as merged_id, current_id as survivor_id, depth as chain_length
from terminal
where rn = 1
