-- one row per OpportunityHistory entry (stage, amount or close date changed)
select
    "Id" as opportunity_history_id,
    "OpportunityId" as opportunity_id,
    "StageName" as stage_name,
    cast("Amount" as decimal(18, 2)) as amount,
    cast("CloseDate" as date) as close_date,
    cast("Probability" as decimal(5, 2)) as probability,
    "ForecastCategory" as forecast_category,
    cast("CreatedDate" as timestamptz) as created_at,
    cast("IsDeleted" as boolean) as is_deleted
from {{ source('salesforce', 'salesforce__opportunity_history') }}
