-- one row per Salesforce User (owners of leads, contacts, opportunities and tasks)
select
    "Id" as user_id,
    "Username" as username,
    "Name" as user_name,
    "FirstName" as first_name,
    "LastName" as last_name,
    "Email" as email,
    cast("IsActive" as boolean) as is_active,
    "Department" as department,
    "UserType" as user_type,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__users') }}
