-- an intermediate of core.fct_touch (not for BI): the ad campaign each campaign response's
-- utm_campaign names (macro campaign_resolution); a response whose utm_campaign matches no
-- alias has no row
{{ campaign_resolution(ref('int_touches'), ['crm', 'touch_id']) }}
