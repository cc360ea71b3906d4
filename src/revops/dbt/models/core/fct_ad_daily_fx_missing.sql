-- grain: as fct_ad_daily. Ad rows held back from fct_ad_daily because they need an ECB rate
-- (currency other than the reporting currency) that the stored rates lack on or before the day.
select
    platform, account_id, campaign_id, ad_group_id, ad_id, date_day, currency, spend_native,
    'no ECB rate for ' || currency || ' on or before ' || cast(date_day as varchar)
        || ' (reporting currency {{ var("reporting_currency") }})' as problem
from ({{ ad_daily_fx(only_missing=true) }}) as fx
where fx_missing
