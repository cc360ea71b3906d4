-- one row per Opportunity. close_date is a date (expected until closed, then actual); the
-- exact close time is the created_at of the closing row in stg_salesforce__opportunity_history
select
    "Id" as opportunity_id,
    cast("IsDeleted" as boolean) as is_deleted,
    "AccountId" as account_id,
    "Name" as opportunity_name,
    "StageName" as stage_name,
    cast("Amount" as decimal(18, 2)) as amount,
    cast("Probability" as decimal(5, 2)) as probability,
    cast("CloseDate" as date) as close_date,
    "Type" as opportunity_type,
    "LeadSource" as lead_source,
    cast("IsClosed" as boolean) as is_closed,
    cast("IsWon" as boolean) as is_won,
    "ForecastCategory" as forecast_category,
    "OwnerId" as owner_id,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("LastModifiedDate" as timestamptz) as updated_at,
    cast("SystemModstamp" as timestamptz) as system_modstamp
from {{ source('salesforce', 'salesforce__opportunities') }}
