-- grain: date_day, platform, campaign_id, channel. Spend on the ad account's day; funnel counts
-- on the reporting-time-zone day of the stage entry of contacts whose source resolves to the
-- campaign; deals on the reporting day they were created (pipeline) or closed won (revenue),
-- credited to their person's lead-source campaign. Funnel counts are people (core.dim_person):
-- a person kept in both CRMs counts once, on the day they first entered the stage in either.
-- Every lead and deal is accounted for: a contact whose source does not resolve to a campaign
-- (organic, or an utm_campaign no alias knows) counts on the explicit row platform '(none)',
-- campaign_id '(unattributed)' of its own channel (core.dim_person.channel), and so do its
-- deals; a deal without a known person on that row of channel 'other'. So the mart's leads
-- are all leads and its revenue all won revenue.
with spend as (
    select date_day, platform, campaign_id,
           sum(spend) as spend, sum(impressions) as impressions, sum(clicks) as clicks
    from {{ ref('fct_ad_daily') }}
    group by date_day, platform, campaign_id
),
people as (  -- one row per person (core.dim_person), not per CRM record
    select
        person_key,
        lead_at, mql_at, sql_at, opportunity_at, customer_at,
        coalesce(source_platform, '(none)') as platform,
        coalesce(source_campaign_id, '(unattributed)') as campaign_id,
        -- the channel of an unattributed row (a resolved one takes its platform's)
        case when source_campaign_id is null then channel end as unattributed_channel
    from {{ ref('dim_person') }}
),
deals as (
    select
        d.created_at, d.closed_at, d.is_won, d.amount,
        coalesce(c.platform, '(none)') as platform,
        coalesce(c.campaign_id, '(unattributed)') as campaign_id,
        case when c.person_key is null then 'other' else c.unattributed_channel end as unattributed_channel
    from {{ ref('fct_deal') }} d
    left join {{ ref('dim_contact') }} dc on dc.contact_id = d.contact_id
    left join people c on c.person_key = dc.person_key
),
events as (
    {%- set stages = [('lead_at', 'leads'), ('mql_at', 'mqls'), ('sql_at', 'sqls'),
                      ('opportunity_at', 'opportunities'), ('customer_at', 'customers')] %}
    {%- set measures = ['leads', 'mqls', 'sqls', 'opportunities', 'customers', 'pipeline_created', 'revenue_won'] %}
    {%- for ts, measure in stages %}
    select {{ reporting_date(ts) }} as date_day, platform, campaign_id, unattributed_channel,
        {%- for m in measures %} {{ '1' if m == measure else '0' }} as {{ m }}{{ ',' if not loop.last }}{% endfor %}
    from people where {{ ts }} is not null
    union all
    {%- endfor %}
    select {{ reporting_date('created_at') }}, platform, campaign_id, unattributed_channel,
        0, 0, 0, 0, 0, amount, 0
    from deals
    union all
    select {{ reporting_date('closed_at') }}, platform, campaign_id, unattributed_channel,
        0, 0, 0, 0, 0, 0, amount
    from deals where is_won
),
funnel as (
    select date_day, platform, campaign_id, unattributed_channel,
           sum(leads) as leads, sum(mqls) as mqls, sum(sqls) as sqls,
           sum(opportunities) as opportunities, sum(customers) as customers,
           sum(pipeline_created) as pipeline_created, sum(revenue_won) as revenue_won
    from events
    group by date_day, platform, campaign_id, unattributed_channel
),
joined as (
    select
        coalesce(s.date_day, f.date_day) as date_day,
        coalesce(s.platform, f.platform) as platform,
        coalesce(s.campaign_id, f.campaign_id) as campaign_id,
        f.unattributed_channel,
        coalesce(s.spend, 0) as spend,
        coalesce(s.impressions, 0) as impressions,
        coalesce(s.clicks, 0) as clicks,
        coalesce(f.leads, 0) as leads,
        coalesce(f.mqls, 0) as mqls,
        coalesce(f.sqls, 0) as sqls,
        coalesce(f.opportunities, 0) as opportunities,
        coalesce(f.customers, 0) as customers,
        coalesce(f.pipeline_created, 0) as pipeline_created,
        coalesce(f.revenue_won, 0) as revenue_won
    from spend s
    full outer join funnel f
      on f.date_day = s.date_day and f.platform = s.platform and f.campaign_id = s.campaign_id
)
select
    j.date_day,
    j.platform,
    coalesce(j.unattributed_channel, ch.channel, 'other') as channel,
    c.account_id,
    j.campaign_id,
    case when j.campaign_id = '(unattributed)' then '(unattributed)' else c.campaign_name end as campaign_name,
    '{{ var("reporting_currency") }}' as currency,
    cast(j.spend as decimal(18, 2)) as spend,
    cast(j.impressions as bigint) as impressions,
    cast(j.clicks as bigint) as clicks,
    cast(j.leads as bigint) as leads,
    cast(j.mqls as bigint) as mqls,
    cast(j.sqls as bigint) as sqls,
    cast(j.opportunities as bigint) as opportunities,
    cast(j.customers as bigint) as customers,
    cast(j.pipeline_created as decimal(18, 2)) as pipeline_created,
    cast(j.revenue_won as decimal(18, 2)) as revenue_won,
    cast(j.spend as double precision) / nullif(j.leads, 0) as cpl,
    cast(j.spend as double precision) / nullif(j.mqls, 0) as cost_per_mql,
    cast(j.spend as double precision) / nullif(j.sqls, 0) as cost_per_sql,
    cast(j.spend as double precision) / nullif(j.customers, 0) as cac,
    cast(j.revenue_won as double precision) / nullif(cast(j.spend as double precision), 0) as roas
from joined j
left join {{ ref('dim_campaign') }} c on c.platform = j.platform and c.campaign_id = j.campaign_id
left join {{ ref('channel_mapping') }} ch on ch.source_type = 'platform' and ch.source_value = j.platform
