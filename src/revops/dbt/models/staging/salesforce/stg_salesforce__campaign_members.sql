-- one row per CampaignMember: a Lead (LeadId) or, once converted, its Contact (ContactId; LeadId
-- kept on members from before the conversion) on a campaign. has_responded derives from the
-- campaign's member status; first_responded_date is only a DATE (org-local), so created_at is
-- the response time. CampaignMember is hard-deleted (no IsDeleted row from queryAll,
-- airbytehq/airbyte#44845): the connector reads removed members from the delete log (sObject Get
-- Deleted) as rows with is_deleted and nothing else; a deleted or merged-away person's members
-- may stay (core drops those through dim_contact).
select
    "Id" as campaign_member_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "CampaignId" as campaign_id,
    "LeadId" as lead_id,
    "ContactId" as contact_id,
    "Status" as status,
    cast("HasResponded" as boolean) as has_responded,
    cast("FirstRespondedDate" as date) as first_responded_date,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__campaign_members') }}
