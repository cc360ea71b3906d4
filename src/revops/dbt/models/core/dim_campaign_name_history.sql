-- one row per (platform, campaign_id, name version): a campaign renamed on the platform keeps
-- one id, and every name it had stays here with valid_from/valid_to. Names are observed by the
-- nightly sync, so valid_from is the run that first saw the name (platforms do not all expose
-- when a rename happened); a name used and dropped between two runs cannot be seen.
select
    platform,
    account_id,
    campaign_id,
    campaign_name,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to,
    dbt_valid_to is null as is_current
from {{ ref('snap_campaign_names') }}
