-- one row per HubSpot company record (deleted ones come back from the recycle bin with
-- is_archived and archived_at). The primary contact is the association labelled Primary
-- (company->contact typeId 2; the first associated id when no label came), followed through
-- merges to the id that stands for the person now.
with companies as (
    select
        cast(id as varchar) as company_id,
        {{ hs('name') }} as company_name,
        lower({{ hs('domain') }}) as domain,
        {{ hs('lifecyclestage') }} as lifecycle_stage,
        {{ hs('hubspot_owner_id') }} as owner_id,
        {{ hs_ts('createdate') }} as created_at,
        {{ hs_ts('hs_lastmodifieddate') }} as updated_at,
        coalesce(archived, false) as is_archived,
        {{ hs_ts('archivedAt') }} as archived_at,
        coalesce({{ hs('primary_contact_id') }},
                 nullif(split_part({{ hs('associated_contact_ids') }}, ';', 1), '')) as listed_contact_id,
        {{ hs('associated_contact_ids') }} as associated_contact_ids
    from {{ source('raw', 'hubspot__companies') }}
)
select
    c.company_id,
    c.company_name,
    c.domain,
    c.lifecycle_stage,
    c.owner_id,
    c.created_at,
    c.updated_at,
    c.is_archived,
    c.archived_at,
    coalesce(m.survivor_id, c.listed_contact_id) as primary_contact_id,
    c.associated_contact_ids
from companies c
left join {{ ref('stg_hubspot__contact_merges') }} m on m.merged_id = c.listed_contact_id
