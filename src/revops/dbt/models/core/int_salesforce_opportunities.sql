-- one row per Opportunity, deleted ones included (is_deleted), resolved to its person and its
-- close time: Opportunity -> OpportunityContactRole (primary first) -> Contact -> the lead that
-- converted to it (else the lead whose ConvertedOpportunityId it is); closed_at = when
-- OpportunityHistory first showed the closed stage after the last open one. core.fct_deal keeps the live ones; core.dim_contact takes the person's
-- opportunity/customer times from all of them (a deleted deal does not undo that the person
-- reached the stage, as HubSpot keeps hs_v2_date_entered_<stage> on the contact).
-- A deleted opportunity's contact roles and history are deleted with it: they still count for it.
with stage_map as (
    select value, stage from {{ ref('crm_stage_mapping') }}
    where crm = 'salesforce' and object = 'opportunity' and field = 'StageName'
),
opps as (
    select o.*, m.stage as mapped_stage, coalesce(o.is_deleted, false) as is_opp_deleted
    from {{ ref('stg_salesforce__opportunities') }} o
    left join stage_map m on m.value = o.stage_name
),
person as (
    select
        r.opportunity_id,
        cl.lead_id,
        row_number() over (
            partition by r.opportunity_id
            order by case when r.is_primary then 0 else 1 end, r.created_at, cl.lead_id
        ) as rn
    from {{ ref('stg_salesforce__opportunity_contact_roles') }} r
    join opps o on o.opportunity_id = r.opportunity_id
    join {{ ref('stg_salesforce__contact_leads') }} cl on cl.contact_id = r.contact_id
    where not coalesce(r.is_deleted, false) or o.is_opp_deleted
),
converted_from as (
    -- an opportunity created by the lead conversion (Lead.ConvertedOpportunityId): its lead,
    -- when no contact role names the person (conversion adds a primary role, but orgs delete them)
    select converted_opportunity_id as opportunity_id, min(lead_id) as lead_id
    from {{ ref('stg_salesforce__leads') }}
    where converted_opportunity_id is not null and not coalesce(is_deleted, false)
    group by converted_opportunity_id
),
history as (
    select h.opportunity_id, h.created_at, m.stage as mapped_stage
    from {{ ref('stg_salesforce__opportunity_history') }} h
    join opps o on o.opportunity_id = h.opportunity_id
    join stage_map m on m.value = h.stage_name
    where not coalesce(h.is_deleted, false) or o.is_opp_deleted
),
last_open as (
    select opportunity_id, max(created_at) as last_open_at
    from history where mapped_stage not in ('won', 'lost')
    group by opportunity_id
),
closed as (
    select h.opportunity_id, min(h.created_at) as closed_at
    from history h
    left join last_open lo on lo.opportunity_id = h.opportunity_id
    where h.mapped_stage in ('won', 'lost')
      and (lo.last_open_at is null or h.created_at > lo.last_open_at)
    group by h.opportunity_id
)
select
    o.opportunity_id,
    o.is_opp_deleted as is_deleted,
    coalesce(p.lead_id, cf.lead_id) as lead_id,
    o.opportunity_name,
    o.created_at,
    -- without a history row (history not kept), the last modification stands in
    case when o.mapped_stage in ('won', 'lost') then coalesce(c.closed_at, o.updated_at) end as closed_at,
    o.mapped_stage,
    o.amount,
    o.stage_name,
    case when o.owner_id like '005%' then o.owner_id end as owner_id,
    o.account_id
from opps o
left join person p on p.opportunity_id = o.opportunity_id and p.rn = 1
left join converted_from cf on cf.opportunity_id = o.opportunity_id
left join closed c on c.opportunity_id = o.opportunity_id
