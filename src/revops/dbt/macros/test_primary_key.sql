{# A table's key: none of its columns NULL and no two rows with the same values, in one query.
   It replaces a not_null test per key column plus a unique (or unique_combination) test: each
   dbt test is a node of its own, ~40 ms of dbt whatever the table's size, and a night ran ~55 of
   them on keys alone. On a column (`data_tests: [primary_key]`) the key is that column. A failing
   row gives the key's values, how many rows hold them and which rule it breaks.

   The table's other row rules ride in the same query, for the same reason (and one read of a
   large table instead of one per column): `not_null: [columns]` (dbt's not_null) and
   `accepted_values: {column: [values]}` (dbt's accepted_values: a NULL is accepted). A row that
   breaks one fails its key, naming the column and the rule. #}
{% test primary_key(model, columns=none, column_name=none, not_null=[], accepted_values={}) %}
{{ key_and_row_rules(model, columns if columns else [column_name], true, not_null, accepted_values) }}
{% endtest %}

{# A grain without dbt_utils (no package downloads on an offline machine): no two rows with the
   same values, NULLs allowed in its columns; `not_null` and `accepted_values` as above. #}
{% test unique_combination(model, columns, not_null=[], accepted_values={}) %}
{{ key_and_row_rules(model, columns, false, not_null, accepted_values) }}
{% endtest %}

{% macro key_and_row_rules(model, key, key_not_null, not_null, accepted_values) %}
{%- set any_null = key | join(' is null or ') ~ ' is null' -%}
{%- set rules = [] -%}
{%- for c in not_null -%}
    {%- do rules.append((c ~ ' is null', c ~ ' is null')) -%}
{%- endfor -%}
{%- for c, values in accepted_values.items() -%}
    {%- set listed = "'" ~ values | join("', '") ~ "'" -%}
    {%- do rules.append((c ~ ' not in (' ~ listed ~ ')', c ~ ' is not one of ' ~ values | join(', '))) -%}
{%- endfor -%}
with checked as (
    select {{ key | join(', ') }},
           {% if rules -%}
           case {% for condition, rule in rules %}when {{ condition }} then '{{ rule }}' {% endfor %}end
           {%- else %}cast(null as varchar){% endif %} as row_failure
    from {{ model }}
)
select {{ key | join(', ') }}, count(*) as n,
       case {% if key_not_null %}when {{ any_null }} then 'a key column is null' {% endif -%}
            when count(*) > 1 then 'the key is not unique'
            else max(row_failure) end as failure
from checked
group by {{ key | join(', ') }}
having count(*) > 1{% if key_not_null %} or {{ any_null }}{% endif %} or max(row_failure) is not null
{% endmacro %}
