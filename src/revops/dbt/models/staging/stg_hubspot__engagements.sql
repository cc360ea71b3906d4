-- one row per (engagement, associated contact): HubSpot calls, emails and meetings.
-- Not every engagement is a sales touch: direction tells an outbound call / a sent email
-- (is_outbound) from an incoming email or an inbound call; meetings have no direction.
-- contact_id is the person's surviving id (stg_hubspot__contact_merges), as in core.dim_contact.
with activities as (
    select
        cast(id as varchar) as engagement_id,
        'call' as type,
        {{ hs_ts('hs_timestamp') }} as occurred_at,
        {{ hs('hubspot_owner_id') }} as owner_id,
        upper({{ hs('hs_call_direction') }}) as direction,
        {{ hs('associated_contact_ids') }} as associated_contact_ids,
        {{ hs_ts('hs_lastmodifieddate') }} as updated_at,
        coalesce(archived, false) as is_archived
    from {{ source('raw', 'hubspot__calls') }}
    union all
    select
        cast(id as varchar),
        'email',
        {{ hs_ts('hs_timestamp') }},
        {{ hs('hubspot_owner_id') }},
        upper({{ hs('hs_email_direction') }}),
        {{ hs('associated_contact_ids') }},
        {{ hs_ts('hs_lastmodifieddate') }},
        coalesce(archived, false)
    from {{ source('raw', 'hubspot__emails') }}
    union all
    select
        cast(id as varchar),
        'meeting',
        coalesce({{ hs_ts('hs_meeting_start_time') }}, {{ hs_ts('hs_timestamp') }}),
        {{ hs('hubspot_owner_id') }},
        cast(null as varchar),
        {{ hs('associated_contact_ids') }},
        {{ hs_ts('hs_lastmodifieddate') }},
        coalesce(archived, false)
    from {{ source('raw', 'hubspot__meetings') }}
),
per_contact as (
    select a.*, trim({{ unnest_split('a.associated_contact_ids') }}) as contact_id
    from activities a
    where a.associated_contact_ids is not null
    union all
    select a.*, cast(null as varchar) as contact_id
    from activities a
    where a.associated_contact_ids is null
),
resolved as (
    -- an engagement logged on a record that a merge later retired belongs to the surviving id
    select p.*, coalesce(m.survivor_id, p.contact_id) as person_id
    from per_contact p
    left join {{ ref('stg_hubspot__contact_merges') }} m on m.merged_id = p.contact_id
)
select distinct
    engagement_id,
    type,
    occurred_at,
    owner_id,
    direction,
    case
        when type = 'call' then direction = 'OUTBOUND'
        when type = 'email' then direction = 'EMAIL'
    end as is_outbound,
    person_id as contact_id,
    updated_at,
    is_archived
from resolved
where contact_id is null or contact_id <> ''
