-- one row per ad campaign (platform, campaign_id) with its current name; campaigns no longer
-- listed by the platform (deleted) but carrying spend come from the ad rows' latest name
with listed as (
    {{ union_ad_platforms('campaigns', ['platform', 'account_id', 'campaign_id', 'campaign_name', 'objective']) }}
),
ad_rows as (
    {{ union_ad_platforms('ad_daily', ['platform', 'account_id', 'campaign_id', 'campaign_name', 'date_day', '_loaded_at']) }}
),
seen_in_ad_rows as (
    -- the unlisted campaigns' rows only, before the window: it then ranks a handful of rows,
    -- not every ad-day of every campaign
    select platform, campaign_id, account_id, campaign_name,
           row_number() over (partition by platform, campaign_id order by date_day desc, _loaded_at desc) as rn
    from ad_rows s
    where not exists (select 1 from listed l where l.platform = s.platform and l.campaign_id = s.campaign_id)
),
campaigns as (
    select platform, account_id, campaign_id, campaign_name, objective from listed
    union all
    select s.platform, s.account_id, s.campaign_id, s.campaign_name, cast(null as varchar)
    from seen_in_ad_rows s
    where s.rn = 1
),
accounts as (
    {{ union_ad_platforms('accounts', ['platform', 'account_id', 'currency', 'timezone']) }}
)
select
    c.platform,
    c.account_id,
    c.campaign_id,
    c.campaign_name,
    c.objective,
    cast(null as varchar) as utm_campaign,
    a.currency,
    a.timezone
from campaigns c
left join accounts a on a.platform = c.platform and a.account_id = c.account_id
