-- one row per person: merged-away CRM records are dropped (their survivor stands for them),
-- archived records are dropped, emails are hashed.
with contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
    where not coalesce(is_archived, false)
      and contact_id not in (select merged_id from {{ ref('stg_hubspot__contact_merges') }})
),
resolved as (
    select
        c.contact_id,
        a.platform as source_platform,
        a.campaign_id as source_campaign_id,
        row_number() over (partition by c.contact_id order by a.priority) as rn
    from contacts c
    join {{ ref('dim_campaign_alias') }} a
      on a.alias = trim(c.utm_campaign) or a.alias = {{ norm_key('c.utm_campaign') }}
)
select
    'hubspot' as crm,
    c.contact_id,
    {{ sha256_hex('c.email') }} as email_hash,
    c.created_at,
    c.updated_at,
    c.owner_id,
    c.lifecycle_stage,
    c.lead_status,
    c.utm_campaign,
    c.analytics_source,
    coalesce(pm.channel, sm.channel, 'other') as channel,
    r.source_platform,
    r.source_campaign_id,
    c.lead_at,
    c.mql_at,
    c.sql_at,
    c.opportunity_at,
    c.customer_at,
    case when c.lead_status = 'UNQUALIFIED' then coalesce(c.rejected_at, c.updated_at) end as rejected_at,
    case when c.lead_status = 'UNQUALIFIED' then c.rejection_reason end as rejection_reason,
    c.first_sales_touch_at
from contacts c
left join resolved r on r.contact_id = c.contact_id and r.rn = 1
left join {{ ref('channel_mapping') }} pm
  on pm.source_type = 'platform' and pm.source_value = r.source_platform
left join {{ ref('channel_mapping') }} sm
  on sm.source_type = 'crm_source' and sm.source_value = c.analytics_source
