-- grain: platform, account_id, campaign_id, ad_group_id, ad_id, date_day (the day the platform
-- reports in: see date_day_basis). Spend converts to the reporting currency at the ECB rates of
-- the last publication on or before date_day (weekends and TARGET holidays take the last earlier
-- one); both legs of a cross rate come from that same publication; spend already in the
-- reporting currency needs no rate. A row that needs a rate the stored ECB rates lack is held
-- back, never a silent zero: it is in fct_ad_daily_fx_missing (the pipeline quarantines it with
-- the currency and day, and it returns on the first build after the rate is stored).
select
    platform, account_id, campaign_id, ad_group_id, ad_id, date_day, date_day_basis, date_day_timezone,
    spend, spend_native, currency, fx_rate, fx_rate_date,
    impressions, clicks, platform_conversions, platform_conversion_value
from {{ ref('int_ad_daily_fx') }}
where not fx_missing
