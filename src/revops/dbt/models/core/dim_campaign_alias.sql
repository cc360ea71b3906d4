-- every string that identifies a campaign in lead-source data: its id and every name it has had
-- (normalised: case- and whitespace-insensitive). UTM tags baked into ad URLs keep the name a
-- campaign had when the ad was made, so renamed campaigns still resolve through their history.
-- Ambiguous names (two campaigns) are dropped. A marketer's alias (seeds/campaign_aliases.csv,
-- normalised like names) comes first (priority 0): it is how a value no sync saw still resolves.
with aliases as (
    select platform, campaign_id, {{ norm_key('alias') }} as alias, 0 as priority
    from {{ ref('campaign_aliases') }}
    union
    select platform, campaign_id, campaign_id, 1 from {{ ref('dim_campaign') }}
    union
    select platform, campaign_id, {{ norm_key('campaign_name') }}, 2 from {{ ref('dim_campaign') }}
    union
    select platform, campaign_id, {{ norm_key('campaign_name') }}, 2 from {{ ref('dim_campaign_name_history') }}
),
unambiguous as (
    select alias, priority from aliases where alias is not null
    group by alias, priority having count(distinct platform || ':' || campaign_id) = 1
)
select a.alias, a.priority, a.platform, a.campaign_id
from aliases a
join unambiguous u on u.alias = a.alias and u.priority = a.priority
