-- one row per deal across CRMs. Won/lost/open comes from seeds/crm_stage_mapping.csv (HubSpot
-- dealstage, Salesforce StageName), not from hard-coded stage names.
-- HubSpot: the deal's contact is the first associated contact, followed through merges.
-- Salesforce: Opportunity -> OpportunityContactRole (primary first) -> Contact -> the lead that
-- converted to it (the person); closed_at = when OpportunityHistory first showed the closed
-- stage after the last open one.
with stage_map as (
    select crm, object, value, stage from {{ ref('crm_stage_mapping') }}
    where (crm = 'hubspot' and object = 'deal' and field = 'dealstage')
       or (crm = 'salesforce' and object = 'opportunity' and field = 'StageName')
),
hs_deals as (
    select d.*, m.stage as mapped_stage
    from {{ ref('stg_hubspot__deals') }} d
    left join stage_map m on m.crm = 'hubspot' and m.value = d.stage
    where not coalesce(d.is_archived, false)
),
hs_assoc as (
    select deal_id, trim({{ unnest_split('associated_contact_ids') }}) as contact_id
    from hs_deals where associated_contact_ids is not null
),
hs_resolved as (
    select a.deal_id, coalesce(m.survivor_id, a.contact_id) as contact_id
    from hs_assoc a
    left join {{ ref('stg_hubspot__contact_merges') }} m on m.merged_id = a.contact_id
),
hs_first_contact as (
    select deal_id, min(contact_id) as contact_id from hs_resolved group by deal_id
),
hubspot as (
    select
        'hubspot' as crm,
        d.deal_id,
        fc.contact_id,
        d.deal_name,
        d.created_at,
        case when d.mapped_stage in ('won', 'lost') then d.close_at end as closed_at,
        coalesce(d.mapped_stage in ('won', 'lost'), false) as is_closed,
        coalesce(d.mapped_stage = 'won', false) as is_won,
        d.amount,
        coalesce(d.currency, '{{ var("reporting_currency") }}') as currency,
        d.pipeline,
        d.stage,
        d.owner_id
    from hs_deals d
    left join hs_first_contact fc on fc.deal_id = d.deal_id
),
sf_opps as (
    select o.*, m.stage as mapped_stage
    from {{ ref('stg_salesforce__opportunities') }} o
    left join stage_map m on m.crm = 'salesforce' and m.value = o.stage_name
    where not coalesce(o.is_deleted, false)
),
sf_person as (
    select
        r.opportunity_id,
        cl.lead_id,
        row_number() over (
            partition by r.opportunity_id
            order by case when r.is_primary then 0 else 1 end, r.created_at, cl.lead_id
        ) as rn
    from {{ ref('stg_salesforce__opportunity_contact_roles') }} r
    join {{ ref('stg_salesforce__contact_leads') }} cl on cl.contact_id = r.contact_id
    where not coalesce(r.is_deleted, false)
),
sf_history as (
    select h.opportunity_id, h.created_at, m.stage as mapped_stage
    from {{ ref('stg_salesforce__opportunity_history') }} h
    join stage_map m on m.crm = 'salesforce' and m.value = h.stage_name
    where not coalesce(h.is_deleted, false)
),
sf_last_open as (
    select opportunity_id, max(created_at) as last_open_at
    from sf_history where mapped_stage not in ('won', 'lost')
    group by opportunity_id
),
sf_closed as (
    select h.opportunity_id, min(h.created_at) as closed_at
    from sf_history h
    left join sf_last_open lo on lo.opportunity_id = h.opportunity_id
    where h.mapped_stage in ('won', 'lost')
      and (lo.last_open_at is null or h.created_at > lo.last_open_at)
    group by h.opportunity_id
),
salesforce as (
    select
        'salesforce' as crm,
        o.opportunity_id as deal_id,
        p.lead_id as contact_id,
        o.opportunity_name as deal_name,
        o.created_at,
        -- without a history row (history not kept), the last modification stands in
        case when o.mapped_stage in ('won', 'lost') then coalesce(c.closed_at, o.updated_at) end as closed_at,
        coalesce(o.mapped_stage in ('won', 'lost'), false) as is_closed,
        coalesce(o.mapped_stage = 'won', false) as is_won,
        o.amount,
        '{{ var("reporting_currency") }}' as currency,
        -- one sales process in the org (record types are not read): one pipeline
        'default' as pipeline,
        o.stage_name as stage,
        case when o.owner_id like '005%' then o.owner_id end as owner_id
    from sf_opps o
    left join sf_person p on p.opportunity_id = o.opportunity_id and p.rn = 1
    left join sf_closed c on c.opportunity_id = o.opportunity_id
)
select * from hubspot
union all
select * from salesforce
