{# Incremental facts: the rows of the partitions that changed since the last build are replaced.

   Strategy `replace_partitions` (a dbt custom incremental strategy, same SQL on DuckDB and
   PostgreSQL): the model's incremental select returns every current row of the changed
   partitions; the strategy deletes every stored row of those partitions, then inserts the new
   ones. A partition is deleted whole, so a row that vanished from its inputs (an offline line
   removed, a row now held back for want of an FX rate) does not linger, which a delete+insert on
   the rows' own keys would leave behind.

   Model config:
     partition_columns   the partition's columns (NOT NULL in the model)
     changed_partitions  the name of a macro taking the built relation and returning a query of
                         the changed partitions (those columns, duplicates allowed)
     pre_hook / post_hook  save_changed_partitions() / drop_changed_partitions()

   The changed partitions are found once per build, before anything is written, into a temporary
   table (changed_partitions_table()) that both the model's select and the strategy's delete
   read: both see the same partitions, the query (a scan of every ad row and of the built table)
   runs once instead of twice, and each engine plans the select against a table whose size it
   knows (the large world's quiet build: fct_ad_daily 5.0 s, of which the select of no partition
   took 3.4 s beside the query itself).

   The changed_partitions macro returns its branches (a list of selects, each a reason a partition
   changes) and takes the watermark as an expression; the pre-hook saves the watermark once and
   runs each branch as a statement of its own, so each is planned alone. (As one union PostgreSQL
   took 12.3 s at a quarter of the large world for branches that take 3.3 s one by one; the
   difference was JIT compiling the large plan, since switched off: revops.settings.
   POSTGRES_SESSION. With JIT off the split measured neither faster nor slower.) #}
{% macro changed_partitions_table() -%}
    {{ this.identifier }}__changed_partitions
{%- endmacro %}

{% macro save_changed_partitions() -%}
    {%- if is_incremental() -%}
    {%- set by = config.require('partition_columns') -%}
    {%- set since = changed_partitions_table() ~ '_since' -%}
    {%- set found = changed_partitions_table() ~ '_found' -%}
    {{ drop_changed_partitions() }};
    -- the watermark: the latest raw load time among the stored rows
    create temporary table {{ since }} as
    select coalesce(max(_loaded_at), cast('1900-01-01 00:00:00+00' as timestamp with time zone)) as loaded_at
    from {{ this }};
    {% for branch in context[config.require('changed_partitions')](this, '(select loaded_at from ' ~ since ~ ')') -%}
    {{ 'create temporary table ' ~ found ~ ' as' if loop.first else 'insert into ' ~ found }}
    {{ branch }};
    {% endfor -%}
    create temporary table {{ changed_partitions_table() }} as
    select distinct {{ by | join(', ') }} from {{ found }}
    {%- endif -%}
{%- endmacro %}

{% macro drop_changed_partitions() -%}
    {%- for suffix in ['', '_since', '_found'] -%}
    drop table if exists {{ changed_partitions_table() ~ suffix }}{{ ';' if not loop.last }}
    {% endfor -%}
{%- endmacro %}

{% macro get_incremental_replace_partitions_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set by = config.require('partition_columns') -%}
    delete from {{ target }} as stored
    using {{ changed_partitions_table() }} as changed_partitions
    where {% for c in by %}stored.{{ c }} = changed_partitions.{{ c }}{{ ' and ' if not loop.last }}{% endfor %};
    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ source }}
{% endmacro %}

{# The (platform, account_id, date_day) partitions of core.fct_ad_daily whose rows may differ
   from the stored ones (`built`): everything a night can change (docs/architecture.md,
   "Incremental facts"). The watermark is the latest raw load time among the stored rows: every
   raw row loaded after it came after the last build (loads and builds never overlap: one writer
   at a time); `seen` is that watermark, an expression (save_changed_partitions() saves it once).
   Returns one select per reason, run one by one:
     - an ad row loaded since the watermark (the platforms' lookback re-pulls, late
       conversions, restated spend);
     - an ECB rate loaded since the watermark: every row in another currency on or after the
       earliest such publication day (a late rate moves the rate of the days after it, and
       brings back rows held back in fct_ad_daily_fx_missing);
     - a stored row whose rate no longer applies: a later publication on or before its day, or
       its publication's rate for its currency or the reporting currency gone;
     - everything, when a stored row was converted for another reporting currency (a row in
       today's reporting currency with a rate, or one in another currency without);
     - an account whose day basis or time zone differs from the stored rows' (accounts are
       re-read whole every night, so their load time says nothing);
     - LinkedIn: a creative whose campaign, campaign group or currency differs from the stored
       rows' (those come from the entity finders, not from the analytics row);
     - offline: any file or line loaded since the watermark rebuilds all offline spend (a file
       edited or removed takes rows away; it is a few rows a campaign and booking day). #}
{% macro ad_daily_changed_partitions(built, seen) %}
    {%- set rep = var('reporting_currency') -%}
    {%- set offline_loaded -%}
    (exists (select 1 from {{ source('offline', 'offline__files') }} where _loaded_at > {{ seen }})
     or exists (select 1 from {{ source('offline', 'offline__spend_lines') }} where _loaded_at > {{ seen }}))
    {%- endset -%}
    {%- set loaded -%}
    -- one pass over the current ad rows: loaded since, a rate loaded since, offline changed (a
    -- condition on the rows alone, which PostgreSQL checks while it reads each platform's raw
    -- rows: with the join below in the same condition it computed every row first)
    select ads.platform, ads.account_id, ads.date_day
    from ({{ union_ad_platforms('ad_daily', ['platform', 'account_id', 'date_day', 'currency', '_loaded_at']) }}) as ads
    where ads._loaded_at > {{ seen }}
       or (ads.currency <> '{{ rep }}'
           and ads.date_day >= (select min(cast(rate_date as date)) from {{ source('ecb', 'ecb__rates') }}
                                where _loaded_at > {{ seen }}))
       or (ads.platform = 'offline' and {{ offline_loaded }})
    {%- endset -%}
    {%- set moved_accounts -%}
    -- the current ad rows of accounts whose day basis or time zone moved (usually none)
    select ads.platform, ads.account_id, ads.date_day
    from ({{ union_ad_platforms('ad_daily', ['platform', 'account_id', 'date_day']) }}) as ads
    join (
        select distinct b.platform, b.account_id
        from (select distinct platform, account_id, date_day_basis, date_day_timezone from {{ built }}) as b
        left join ({{ union_ad_platforms('accounts', ['platform', 'account_id', 'date_day_basis', 'date_day_timezone']) }}) as acc
          on acc.platform = b.platform and acc.account_id = b.account_id
        where acc.date_day_basis is distinct from b.date_day_basis
           or acc.date_day_timezone is distinct from b.date_day_timezone
    ) as moved on moved.platform = ads.platform and moved.account_id = ads.account_id
    {%- endset -%}
    {%- set stale_rates -%}
    -- stored rows whose rate no longer applies: a later publication on or before the day, or
    -- its publication's rate for the row's currency or the reporting currency gone
    select b.platform, b.account_id, b.date_day
    from (select distinct platform, account_id, date_day, currency, fx_rate_date from {{ built }}
          where fx_rate_date is not null) as b
    left join (
        select d.date_day, max(p.rate_date) as rate_date
        from (select distinct date_day from {{ built }} where fx_rate_date is not null) as d
        join (select distinct rate_date from {{ ref('stg_ecb__rates') }}) as p on p.rate_date <= d.date_day
        group by d.date_day
    ) as publication on publication.date_day = b.date_day
    left join {{ ref('stg_ecb__rates') }} as src on src.rate_date = b.fx_rate_date and src.currency = b.currency
    left join {{ ref('stg_ecb__rates') }} as rep on rep.rate_date = b.fx_rate_date and rep.currency = '{{ rep }}'
    where publication.rate_date is distinct from b.fx_rate_date
       or (src.currency is null and b.currency <> 'EUR')
       or (rep.currency is null and '{{ rep }}' <> 'EUR')
    {%- endset -%}
    {%- set everything -%}
    -- everything, when a stored row was converted for another reporting currency; and all stored
    -- offline days when offline changed (a day whose every line went away)
    select platform, account_id, date_day from {{ built }}
    where exists (select 1 from {{ built }} as b
                  where (b.currency = '{{ rep }}' and b.fx_rate_date is not null)
                     or (b.currency <> '{{ rep }}' and b.fx_rate_date is null))
       or (platform = 'offline' and {{ offline_loaded }})
    {%- endset -%}
    {%- set moved_creatives -%}
    -- the stored LinkedIn rows of each ad whose campaign, campaign group or currency is not its
    -- current one: compared ad by ad (a few hundred each side), not row by row (PostgreSQL
    -- cannot hash `is not distinct from`, and sorted both tables whole for it: 4.4 s of the 14 s
    -- this query took at a quarter of the large world). An ad's rows all take its creative's
    -- current campaign, so its stored rows all differ or none do.
    select b.platform, b.account_id, b.date_day
    from {{ built }} as b
    join (
        select stored.account_id, stored.ad_id
        from (select distinct account_id, ad_id, campaign_id, ad_group_id, currency
              from {{ built }} where platform = 'linkedin') as stored
        left join (select distinct account_id, ad_id, campaign_id, ad_group_id, currency
                   from {{ ref('stg_linkedin__ad_daily') }}) as now_
          on now_.account_id = stored.account_id and now_.ad_id = stored.ad_id
         and now_.campaign_id is not distinct from stored.campaign_id
         and now_.ad_group_id is not distinct from stored.ad_group_id
         and now_.currency is not distinct from stored.currency
        where now_.ad_id is null
    ) as moved on b.platform = 'linkedin' and b.account_id = moved.account_id and b.ad_id = moved.ad_id
    {%- endset -%}
    {{ return([loaded, moved_accounts, stale_rates, everything, moved_creatives]) }}
{% endmacro %}
