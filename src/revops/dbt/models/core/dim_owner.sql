-- one row per CRM owner: HubSpot owners (team = the primary team) and Salesforce users
-- (team = Department); whoever a contact, lead or deal is assigned to
select
    'hubspot' as crm,
    owner_id,
    nullif(trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), '') as owner_name,
    email,
    {{ hubspot_primary_team('teams_json') }} as team,
    not coalesce(cast(is_archived as boolean), false) as is_active
from {{ ref('stg_hubspot__owners') }}
union all
select
    'salesforce' as crm,
    user_id as owner_id,
    nullif(trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), '') as owner_name,
    email,
    nullif(trim(department), '') as team,
    coalesce(is_active, true) as is_active
from {{ ref('stg_salesforce__users') }}
