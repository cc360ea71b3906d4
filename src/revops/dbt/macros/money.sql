{# The one rounding rule for money (docs/metrics.md, "Money"): spend is converted to the reporting
   currency per fct_ad_daily row in exact arithmetic and rounded ONCE, to 2 decimal places (cents),
   half away from zero; everything downstream is an exact sum of those cents.

   Exact on both engines: DuckDB divides DECIMALs in DOUBLE, so the division is done on integers
   (amount and rates in millionths; staging keeps both at DECIMAL(18, 6)):
     cents = amount * to_rate / from_rate * 100 = A * T / (F * 10^4)   (A, T, F in millionths)
   rounded half away from zero: sign(A) * floor((2 |A T| + F 10^4) / (2 F 10^4)), F > 0. #}
{% macro money_to_cents(x) -%}
    cast(round({{ x }}, 2) as decimal(18, 2))
{%- endmacro %}

{% macro _micros(x) -%}
    {%- if target.type == 'duckdb' -%}
    cast({{ x }} * 1000000 as hugeint)
    {%- else -%}
    cast({{ x }} * 1000000 as numeric(38, 0))
    {%- endif -%}
{%- endmacro %}

{% macro _int_div(a, b) -%}
    {%- if target.type == 'duckdb' -%}
    ({{ a }}) // ({{ b }})
    {%- else -%}
    div({{ a }}, {{ b }})
    {%- endif -%}
{%- endmacro %}

{% macro convert_money(amount, from_rate, to_rate) -%}
    {%- set a = _micros(amount) -%}
    {%- set t = _micros(to_rate) -%}
    {%- set f = _micros(from_rate) -%}
    cast(
        cast(sign({{ a }}) * {{ _int_div('2 * abs(' ~ a ~ ' * ' ~ t ~ ') + ' ~ f ~ ' * 10000', '2 * ' ~ f ~ ' * 10000') }}
             as decimal(38, 0)) * cast(0.01 as decimal(3, 2))
        as decimal(18, 2))
{%- endmacro %}
