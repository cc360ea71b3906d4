-- one row per person across CRMs: merged-away records are dropped (their survivor stands for
-- them), archived/deleted records are dropped, emails are pseudonymised (ops.email_hashes, HMAC-SHA256
-- keyed by the salt from settings, made in Python by revops.load.pseudonymize).
-- The records, their email hash, stage times and first sales touch come from core.int_contact_people, the
-- campaign their utm_campaign names from core.int_contact_campaign (one row per value): three models, not one query,
-- so that each holds few hash tables at once under DuckDB's memory limit (int_contact_people).
select
    c.crm,
    c.contact_id,
    -- one person across CRMs: the salted hash of the record's primary email (the same email gives
    -- the same hash in either CRM); a record without an email is a person of its own
    coalesce(c.email_hash, c.crm || ':' || c.contact_id) as person_key,
    c.email_hash,
    c.created_at,
    c.updated_at,
    c.owner_id,
    c.lifecycle_stage,
    c.lead_status,
    c.utm_campaign,
    c.analytics_source,
    coalesce(pm.channel, sm.channel, 'other') as channel,
    r.platform as source_platform,
    r.campaign_id as source_campaign_id,
    c.lead_at,
    c.mql_at,
    c.sql_at,
    c.opportunity_at,
    c.customer_at,
    c.rejected_at,
    c.rejection_reason,
    c.first_sales_touch_at,
    co.company_key
from {{ ref('int_contact_people') }} c
left join {{ ref('dim_company') }} co on co.crm = c.crm and co.company_id = c.company_id
left join {{ ref('int_contact_campaign') }} r on r.utm_campaign = c.utm_campaign
left join {{ ref('channel_mapping') }} pm
  on pm.source_type = 'platform' and pm.source_value = r.platform
left join {{ ref('channel_mapping') }} sm
  on sm.source_type = 'crm_source' and sm.source_value = c.analytics_source
