-- grain: month x model x platform x campaign_id. A won deal's amount is credited to the
-- person's marketing touches before the deal was created (core.fct_touch: one per campaign), in
-- the month the deal was won (reporting time zone), by four models: first_touch, last_touch,
-- linear, u_shaped (40 % first, 40 % last, 20 % spread over the middle; one touch takes 100 %,
-- two take 50/50). Spend is the campaign's spend in the month of its ad day. Every model has a
-- row for every campaign that spent or was credited in the month.
-- Every won deal is accounted for: a touch whose campaign does not resolve keeps its place in
-- the path and its share goes to the explicit row platform '(none)', campaign_id
-- '(unattributed)'; a deal without any touch before its creation (or without a person) credits
-- that row in full. So each model's attributed_revenue sums to all won revenue.
with won as (
    select crm, deal_id, contact_id, created_at, closed_at, amount
    from {{ ref('fct_deal') }}
    where is_won and is_closed
),
touched as (
    select
        w.crm,
        w.deal_id,
        cast(date_trunc('month', {{ reporting_date('w.closed_at') }}) as date) as month,
        w.amount,
        t.touch_id,
        t.touched_at,
        coalesce(t.platform, '(none)') as platform,
        coalesce(t.campaign_id, '(unattributed)') as campaign_id
    from won w
    join {{ ref('fct_touch') }} t
      on t.crm = w.crm and t.contact_id = w.contact_id and t.touched_at < w.created_at
),
untouched as (
    select
        w.crm,
        w.deal_id,
        cast(date_trunc('month', {{ reporting_date('w.closed_at') }}) as date) as month,
        w.amount
    from won w
    where not exists (select 1 from touched t where t.crm = w.crm and t.deal_id = w.deal_id)
),
paths as (
    select
        month, amount, platform, campaign_id,
        row_number() over (partition by crm, deal_id order by touched_at, touch_id) as pos,
        count(*) over (partition by crm, deal_id) as n
    from touched
    union all
    select month, amount, '(none)', '(unattributed)', 1, 1 from untouched
),
weighted as (
    select month, platform, campaign_id, amount, 'first_touch' as model,
           case when pos = 1 then 1.0 else 0.0 end as w
    from paths
    union all
    select month, platform, campaign_id, amount, 'last_touch',
           case when pos = n then 1.0 else 0.0 end
    from paths
    union all
    select month, platform, campaign_id, amount, 'linear', 1.0 / n
    from paths
    union all
    select month, platform, campaign_id, amount, 'u_shaped',
           case when n <= 2 then 1.0 / n
                when pos = 1 or pos = n then 0.4
                else 0.2 / (n - 2) end
    from paths
),
credit as (
    select month, model, platform, campaign_id,
           sum(cast(w as decimal(38, 18))) as attributed_deals,
           sum(amount * cast(w as decimal(38, 18))) as attributed_revenue
    from weighted
    group by month, model, platform, campaign_id
),
spend as (
    select cast(date_trunc('month', date_day) as date) as month, platform, campaign_id, sum(spend) as spend
    from {{ ref('fct_ad_daily') }}
    group by 1, 2, 3
),
models as (
    select 'first_touch' as model union all select 'last_touch'
    union all select 'linear' union all select 'u_shaped'
),
keys as (
    select month, platform, campaign_id from spend
    union
    select month, platform, campaign_id from credit
)
select
    k.month,
    m.model,
    case when k.campaign_id = '(unattributed)' then 'unattributed'
         else coalesce(ch.channel, 'other') end as channel,
    k.platform,
    c.account_id,
    k.campaign_id,
    case when k.campaign_id = '(unattributed)' then '(unattributed)' else c.campaign_name end as campaign_name,
    '{{ var("reporting_currency") }}' as currency,
    cast(coalesce(cr.attributed_deals, 0) as double precision) as attributed_deals,
    cast(coalesce(cr.attributed_revenue, 0) as decimal(20, 4)) as attributed_revenue,
    cast(coalesce(s.spend, 0) as decimal(18, 2)) as spend,
    cast(case when coalesce(s.spend, 0) = 0 then null
              else coalesce(cr.attributed_revenue, 0) / s.spend end as double precision) as roas
from keys k
cross join models m
left join credit cr
  on cr.month = k.month and cr.model = m.model and cr.platform = k.platform and cr.campaign_id = k.campaign_id
left join spend s on s.month = k.month and s.platform = k.platform and s.campaign_id = k.campaign_id
left join {{ ref('dim_campaign') }} c on c.platform = k.platform and c.campaign_id = k.campaign_id
left join {{ ref('channel_mapping') }} ch on ch.source_type = 'platform' and ch.source_value = k.platform
