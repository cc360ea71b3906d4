-- grain: month (of lead_at, reporting time zone) x channel
select
    cast(date_trunc('month', {{ reporting_date('lead_at') }}) as date) as month,
    channel,
    count(*) as leads,
    sum(case when source_campaign_id is not null then 1 else 0 end) as attributed_leads,
    cast(sum(case when source_campaign_id is not null then 1 else 0 end) as double precision)
        / count(*) as coverage
from {{ ref('dim_person') }}
where lead_at is not null
group by 1, 2
