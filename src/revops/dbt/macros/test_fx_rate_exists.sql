{# Spend without an FX rate is an error, never a silent zero: one failing row per currency
   with the first and last day that had no ECB rate (the build error names them). #}
{% test fx_rate_exists(model, column_name) %}
select
    'no ECB rate for ' || currency || ' from ' || cast(min(date_day) as varchar)
        || ' to ' || cast(max(date_day) as varchar) as problem,
    count(*) as spend_rows
from {{ model }}
where {{ column_name }} is null
group by currency
{% endtest %}
