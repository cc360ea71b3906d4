-- one row per deal across CRMs. Won/lost/open comes from seeds/crm_stage_mapping.csv (HubSpot
-- dealstage, Salesforce StageName), not from hard-coded stage names.
-- HubSpot: the deal's contact is, of its associated contacts followed through merges, the one created
-- first (HubSpot labels no deal -> contact association as primary: typeId 3 is unlabeled; the
-- association list's order is id order, and ids are text here, so neither says who came first).
-- Salesforce: int_salesforce_opportunities (the opportunity resolved to its person, the lead, and its
-- close time from OpportunityHistory), deleted opportunities dropped.
with stage_map as (
    select crm, object, value, stage from {{ ref('crm_stage_mapping') }}
    where crm = 'hubspot' and object = 'deal' and field = 'dealstage'
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
hs_ranked as (
    -- created first; a contact the CRM does not have (no created_at) last; ties by numeric id
    select
        r.deal_id,
        r.contact_id,
        row_number() over (
            partition by r.deal_id
            order by case when c.created_at is null then 1 else 0 end, c.created_at,
                     length(r.contact_id), r.contact_id
        ) as rn
    from hs_resolved r
    left join {{ ref('stg_hubspot__contacts') }} c on c.contact_id = r.contact_id
),
hs_first_contact as (
    select deal_id, contact_id from hs_ranked where rn = 1
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
        d.owner_id,
        d.company_id
    from hs_deals d
    left join hs_first_contact fc on fc.deal_id = d.deal_id
),
salesforce as (
    select
        'salesforce' as crm,
        o.opportunity_id as deal_id,
        o.lead_id as contact_id,
        o.opportunity_name as deal_name,
        o.created_at,
        o.closed_at,
        coalesce(o.mapped_stage in ('won', 'lost'), false) as is_closed,
        coalesce(o.mapped_stage = 'won', false) as is_won,
        o.amount,
        '{{ var("reporting_currency") }}' as currency,
        -- one sales process in the org (record types are not read): one pipeline
        'default' as pipeline,
        o.stage_name as stage,
        o.owner_id,
        o.account_id as company_id
    from {{ ref('int_salesforce_opportunities') }} o
    where not o.is_deleted
),
deals as (
    select * from hubspot
    union all
    select * from salesforce
)
-- company_key: the deal's company in core.dim_company (HubSpot: the deal -> company association,
-- Primary label first; Salesforce: Opportunity.AccountId); NULL when the CRM names none or a
-- deleted one
select
    d.crm, d.deal_id, d.contact_id, d.deal_name, d.created_at, d.closed_at, d.is_closed,
    d.is_won, d.amount, d.currency, d.pipeline, d.stage, d.owner_id,
    co.company_key
from deals d
left join {{ ref('dim_company') }} co on co.crm = d.crm and co.company_id = d.company_id
