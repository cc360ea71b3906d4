-- an intermediate of core.dim_contact (not for BI): the ad campaign each utm_campaign value of the
-- CRM records (core.int_contact_people) names (macro campaign_resolution), one row per value; a
-- value that matches no alias has no row
{{ campaign_resolution(ref('int_contact_people')) }}
