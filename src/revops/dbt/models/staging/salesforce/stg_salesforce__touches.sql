-- the staging touch contract (one row per touch the CRM records): a responded CampaignMember.
-- contact_id is the person as core.dim_contact names it: the lead its Contact converted from
-- (stg_salesforce__contact_leads, which follows contact merges), else its LeadId (re-parented to
-- the master lead by a merge). touched_at = CreatedDate: the member is created when the person
-- responds (FirstRespondedDate is a date only). utm_campaign = the Campaign's UTM field, its
-- Name when empty. Deleted people's members may stay: core drops them by joining dim_contact.
-- A table, as stg_hubspot__touches (which says why): core.int_touches is a view over both.
{{ config(materialized='table') }}
select
    m.campaign_member_id as touch_id,
    coalesce(cl.lead_id, m.lead_id) as contact_id,
    m.created_at as touched_at,
    'campaign_member' as touch_type,
    coalesce(c.utm_campaign, c.campaign_name) as utm_campaign,
    c.campaign_name
from {{ ref('stg_salesforce__campaign_members') }} m
join {{ ref('stg_salesforce__campaigns') }} c on c.campaign_id = m.campaign_id
left join {{ ref('stg_salesforce__contact_leads') }} cl on cl.contact_id = m.contact_id
where m.has_responded and not coalesce(m.is_deleted, false)
