-- Every stage/status value a CRM sends must be in seeds/crm_stage_mapping.csv: one row per
-- unmapped (crm, object, field, value), so the build fails naming the value instead of silently
-- dropping those records out of the funnel. Add the value to the seed (with its unified stage,
-- or 'none') to fix it.
with sent as (
    select 'hubspot' as crm, 'contact' as object, 'lifecyclestage' as field, lifecycle_stage as value
    from {{ ref('stg_hubspot__contacts') }}
    union all
    select 'hubspot', 'contact', 'hs_lead_status', lead_status from {{ ref('stg_hubspot__contacts') }}
    union all
    select 'hubspot', 'deal', 'dealstage', stage from {{ ref('stg_hubspot__deals') }}
    union all
    select 'salesforce', 'lead', 'Status', status from {{ ref('stg_salesforce__leads') }}
    union all
    select 'salesforce', 'lead', 'Status', new_value from {{ ref('stg_salesforce__lead_history') }}
    where field = 'Status'
    union all
    select 'salesforce', 'lead', 'Status', old_value from {{ ref('stg_salesforce__lead_history') }}
    where field = 'Status'
    union all
    select 'salesforce', 'opportunity', 'StageName', stage_name from {{ ref('stg_salesforce__opportunities') }}
    union all
    select 'salesforce', 'opportunity', 'StageName', stage_name
    from {{ ref('stg_salesforce__opportunity_history') }}
)
select s.crm, s.object, s.field, s.value, count(*) as records
from sent s
left join {{ ref('crm_stage_mapping') }} m
  on m.crm = s.crm and m.object = s.object and m.field = s.field and m.value = s.value
where s.value is not null and m.stage is null
group by s.crm, s.object, s.field, s.value
