-- our campaign = a LinkedIn campaign group; ids on the wire are numbers or URNs: keep the number
select
    cast('linkedin' as varchar) as platform,
    cast(regexp_replace(account, '^urn:li:[A-Za-z]+:', '') as varchar) as account_id,
    cast(regexp_replace(id, '^urn:li:[A-Za-z]+:', '') as varchar) as campaign_id,
    cast(name as varchar) as campaign_name,
    cast("objectiveType" as varchar) as objective,
    cast(status as varchar) as status,
    -- epoch milliseconds
    cast(to_timestamp(cast("changeAuditStamps.lastModified.time" as bigint) / 1000.0) as timestamptz) as updated_at
from {{ source('linkedin', 'linkedin__campaign_groups') }}
