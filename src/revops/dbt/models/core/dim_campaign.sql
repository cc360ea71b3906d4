-- one row per ad campaign; the name is the platform's current name
with listed as (
    select campaign_id, account_id, campaign_name, objective, updated_at
    from {{ ref('stg_meta__campaigns') }}
),
seen_in_insights as (  -- campaigns deleted since, still carrying spend
    select campaign_id, account_id, campaign_name,
           row_number() over (partition by campaign_id order by date_day desc, _loaded_at desc) as rn
    from {{ ref('stg_meta__ads_insights') }}
),
campaigns as (
    select campaign_id, account_id, campaign_name, objective from listed
    union all
    select s.campaign_id, s.account_id, s.campaign_name, cast(null as varchar)
    from seen_in_insights s
    where s.rn = 1 and s.campaign_id not in (select campaign_id from listed)
)
select
    'meta' as platform,
    c.account_id,
    c.campaign_id,
    c.campaign_name,
    c.objective,
    cast(null as varchar) as utm_campaign,
    a.currency,
    a.timezone
from campaigns c
left join {{ ref('stg_meta__ad_accounts') }} a on a.account_id = c.account_id
