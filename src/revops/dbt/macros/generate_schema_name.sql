{# Tables land in exactly the schemas of the architecture (raw, staging, core, marts_build),
   not dbt's default "<target schema>_<custom>" prefix. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
