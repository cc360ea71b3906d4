-- an intermediate of core.fct_touch (not for BI): every campaign response of both CRMs, HubSpot
-- form submissions and Salesforce campaign members (stg_<crm>__touches, each already resolved
-- to the surviving person), before the campaign resolution (core.int_touch_campaign) and the
-- first response per person and campaign (core.fct_touch). A view: both staging models it
-- unions are tables (stg_hubspot__touches says why), so neither of those
-- queries runs a staging view's joins beside its own (core/int_contact_people.sql says why that
-- matters under DuckDB's memory limit) and nothing copies two million rows a night for them.
{{ config(materialized='view') }}
select 'hubspot' as crm, touch_id, contact_id, touched_at, touch_type, utm_campaign, campaign_name
from {{ ref('stg_hubspot__touches') }}
union all
select 'salesforce', touch_id, contact_id, touched_at, touch_type, utm_campaign, campaign_name
from {{ ref('stg_salesforce__touches') }}
