select
    cast(id as varchar) as owner_id,
    email,
    "firstName" as first_name,
    "lastName" as last_name,
    cast("userId" as varchar) as user_id,
    teams as teams_json,
    archived as is_archived
from {{ source('raw', 'hubspot__owners') }}
