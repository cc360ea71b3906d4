-- grain: date_day, platform, campaign_id. Spend on the ad account's day; leads/MQLs/SQLs on the
-- reporting-time-zone day of the stage entry of contacts whose source resolves to the campaign.
with spend as (
    select date_day, platform, campaign_id,
           sum(spend) as spend, sum(impressions) as impressions, sum(clicks) as clicks
    from {{ ref('fct_ad_daily') }}
    group by date_day, platform, campaign_id
),
stage_events as (
    select {{ reporting_date('lead_at') }} as date_day, source_platform as platform,
           source_campaign_id as campaign_id, 1 as is_lead, 0 as is_mql, 0 as is_sql
    from {{ ref('dim_contact') }} where lead_at is not null and source_campaign_id is not null
    union all
    select {{ reporting_date('mql_at') }}, source_platform, source_campaign_id, 0, 1, 0
    from {{ ref('dim_contact') }} where mql_at is not null and source_campaign_id is not null
    union all
    select {{ reporting_date('sql_at') }}, source_platform, source_campaign_id, 0, 0, 1
    from {{ ref('dim_contact') }} where sql_at is not null and source_campaign_id is not null
),
funnel as (
    select date_day, platform, campaign_id,
           sum(is_lead) as leads, sum(is_mql) as mqls, sum(is_sql) as sqls
    from stage_events
    group by date_day, platform, campaign_id
),
joined as (
    select
        coalesce(s.date_day, f.date_day) as date_day,
        coalesce(s.platform, f.platform) as platform,
        coalesce(s.campaign_id, f.campaign_id) as campaign_id,
        coalesce(s.spend, 0) as spend,
        coalesce(s.impressions, 0) as impressions,
        coalesce(s.clicks, 0) as clicks,
        coalesce(f.leads, 0) as leads,
        coalesce(f.mqls, 0) as mqls,
        coalesce(f.sqls, 0) as sqls
    from spend s
    full outer join funnel f
      on f.date_day = s.date_day and f.platform = s.platform and f.campaign_id = s.campaign_id
)
select
    j.date_day,
    j.platform,
    coalesce(ch.channel, 'other') as channel,
    c.account_id,
    j.campaign_id,
    c.campaign_name,
    '{{ var("reporting_currency") }}' as currency,
    cast(j.spend as double precision) as spend,
    cast(j.impressions as bigint) as impressions,
    cast(j.clicks as bigint) as clicks,
    cast(j.leads as bigint) as leads,
    cast(j.mqls as bigint) as mqls,
    cast(j.sqls as bigint) as sqls,
    j.spend / nullif(j.leads, 0) as cpl,
    j.spend / nullif(j.mqls, 0) as cost_per_mql,
    j.spend / nullif(j.sqls, 0) as cost_per_sql
from joined j
left join {{ ref('dim_campaign') }} c on c.platform = j.platform and c.campaign_id = j.campaign_id
left join {{ ref('channel_mapping') }} ch on ch.source_type = 'platform' and ch.source_value = j.platform
