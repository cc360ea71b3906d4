-- one row per HubSpot contact record (merged-away records may linger from earlier loads;
-- deleted ones come back from the recycle bin with is_archived and archived_at)
select
    cast(id as varchar) as contact_id,
    {{ hs('email') }} as email,
    {{ hs_ts('createdate') }} as created_at,
    {{ hs_ts('lastmodifieddate') }} as updated_at,
    {{ hs('lifecyclestage') }} as lifecycle_stage,
    {{ hs('hs_lead_status') }} as lead_status,
    {{ hs('hubspot_owner_id') }} as owner_id,
    {{ hs_ts('hs_v2_date_entered_lead') }} as lead_at,
    {{ hs_ts('hs_v2_date_entered_marketingqualifiedlead') }} as mql_at,
    {{ hs_ts('hs_v2_date_entered_salesqualifiedlead') }} as sql_at,
    {{ hs_ts('hs_v2_date_entered_opportunity') }} as opportunity_at,
    {{ hs_ts('hs_v2_date_entered_customer') }} as customer_at,
    {{ hs(var('hubspot_rejection_reason_property')) }} as rejection_reason,
    {{ hs_ts(var('hubspot_rejected_at_property')) }} as rejected_at,
    -- when hs_lead_status got its current value: the property's own history (the connector's
    -- batch read with propertiesWithHistory), not lastmodifieddate
    {{ hs_ts('hs_lead_status_set_at') }} as lead_status_set_at,
    {{ hs_ts('hs_first_outreach_date') }} as first_sales_touch_at,
    {{ hs(var('hubspot_utm_campaign_property')) }} as utm_campaign,
    {{ hs('hs_analytics_source') }} as analytics_source,
    {{ hs('hs_analytics_source_data_1') }} as analytics_source_data_1,
    {{ hs('hs_analytics_source_data_2') }} as analytics_source_data_2,
    {{ hs('hs_merged_object_ids') }} as merged_object_ids,
    {{ hs('hs_additional_emails') }} as additional_emails,
    archived as is_archived,
    {{ hs_ts('archivedAt') }} as archived_at
from {{ source('raw', 'hubspot__contacts') }}
