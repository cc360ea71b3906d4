-- every ad platform's rows with spend converted to the reporting currency (see fct_ad_daily);
-- fx_missing = the row needs a rate (its currency is not the reporting currency) and the stored
-- ECB rates have none on or before its day: such rows are held back (fct_ad_daily_fx_missing)
{{ config(materialized='ephemeral') }}
{{ ad_daily_fx() }}
