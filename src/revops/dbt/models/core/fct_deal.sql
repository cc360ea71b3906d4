-- one row per deal; its contact is the first associated contact, followed through merges
with deals as (
    select * from {{ ref('stg_hubspot__deals') }} where not coalesce(is_archived, false)
),
assoc as (
    select deal_id, trim({{ unnest_split('associated_contact_ids') }}) as contact_id
    from deals where associated_contact_ids is not null
),
resolved as (
    select a.deal_id, coalesce(m.survivor_id, a.contact_id) as contact_id
    from assoc a
    left join {{ ref('stg_hubspot__contact_merges') }} m on m.merged_id = a.contact_id
),
first_contact as (
    select deal_id, min(contact_id) as contact_id from resolved group by deal_id
)
select
    'hubspot' as crm,
    d.deal_id,
    fc.contact_id,
    d.deal_name,
    d.created_at,
    case when d.is_closed then d.close_at end as closed_at,
    d.is_closed,
    d.is_won,
    d.amount,
    coalesce(d.currency, '{{ var("reporting_currency") }}') as currency,
    d.pipeline,
    d.stage,
    d.owner_id
from deals d
left join first_contact fc on fc.deal_id = d.deal_id
