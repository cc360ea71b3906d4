-- one row per contact role on an opportunity
select
    "Id" as opportunity_contact_role_id,
    "OpportunityId" as opportunity_id,
    "ContactId" as contact_id,
    "Role" as role,
    cast("IsPrimary" as boolean) as is_primary,
    cast("IsDeleted" as boolean) as is_deleted,
    cast("CreatedDate" as timestamptz) as created_at
from {{ source('salesforce', 'salesforce__opportunity_contact_roles') }}
