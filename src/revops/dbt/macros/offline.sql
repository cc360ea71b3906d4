{# Offline spend: the lines of each CSV's current version only. raw.offline__spend_lines keeps
   every (file_name, line_number) ever loaded; a file edited shorter leaves its old tail lines
   behind with an older file_version, and a removed file is tombstoned in raw.offline__files. #}
{% macro offline_current_lines() -%}
    select l.*, f._loaded_at as _file_loaded_at
    from {{ source('offline', 'offline__spend_lines') }} l
    join {{ source('offline', 'offline__files') }} f
      on f.file_name = l.file_name
     and f.file_version = l.file_version
     and f.is_deleted = 'false'
{%- endmacro %}
