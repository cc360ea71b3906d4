-- one row per HubSpot deal record (deleted ones with is_archived and archived_at). company_id:
-- the deal's company, the deal -> company association labelled Primary (typeId 5), else the
-- first associated company (HubSpot lists them in id order).
select
    cast(id as varchar) as deal_id,
    {{ hs('dealname') }} as deal_name,
    cast({{ hs('amount') }} as decimal(18, 2)) as amount,
    upper({{ hs('deal_currency_code') }}) as currency,
    {{ hs('dealstage') }} as stage,
    {{ hs('pipeline') }} as pipeline,
    {{ hs_ts('createdate') }} as created_at,
    {{ hs_ts('closedate') }} as close_at,
    {{ hs_ts('hs_lastmodifieddate') }} as updated_at,
    coalesce({{ hs('hs_is_closed') }} = 'true', false) as is_closed,
    coalesce({{ hs('hs_is_closed_won') }} = 'true', false) as is_won,
    {{ hs('hubspot_owner_id') }} as owner_id,
    {{ hs('associated_contact_ids') }} as associated_contact_ids,
    coalesce({{ hs('primary_company_id') }},
             nullif(split_part({{ hs('associated_company_ids') }}, ';', 1), '')) as company_id,
    archived as is_archived,
    {{ hs_ts('archivedAt') }} as archived_at
from {{ source('raw', 'hubspot__deals') }}
