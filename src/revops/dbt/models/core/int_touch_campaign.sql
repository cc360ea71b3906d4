-- an intermediate of core.fct_touch (not for BI): the ad campaign each utm_campaign value of the
-- campaign responses (core.int_touches) names (macro campaign_resolution), one row per value; a
-- value that matches no alias has no row
{{ campaign_resolution(ref('int_touches')) }}
