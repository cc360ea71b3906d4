{# A table's key: none of its columns NULL and no two rows with the same values, in one query.
   It replaces a not_null test per key column plus a unique (or unique_combination) test: each
   dbt test is a node of its own, ~40 ms of dbt whatever the table's size, and a night ran ~55 of
   them on keys alone. On a column (`data_tests: [primary_key]`) the key is that column. A failing
   row gives the key's values, how many rows hold them and which rule it breaks. #}
{% test primary_key(model, columns=none, column_name=none) %}
{%- set key = columns if columns else [column_name] -%}
{%- set any_null = key | join(' is null or ') ~ ' is null' -%}
select {{ key | join(', ') }}, count(*) as n,
       case when {{ any_null }} then 'a key column is null' else 'the key is not unique' end as failure
from {{ model }}
group by {{ key | join(', ') }}
having count(*) > 1 or {{ any_null }}
{% endtest %}
