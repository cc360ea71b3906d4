-- an intermediate of core.dim_contact (not for BI): the ad campaign each CRM record's
-- utm_campaign names (macro campaign_resolution); a record whose utm_campaign matches no alias
-- has no row
{{ campaign_resolution(ref('int_contact_people'), ['crm', 'contact_id']) }}
