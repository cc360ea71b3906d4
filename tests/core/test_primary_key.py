"""The project's ``primary_key`` dbt test (macros/test_primary_key.sql), which stands for a
not_null test per key column plus a unique test, and for the table's other not_null and
accepted_values tests: it fails on a duplicated key, on a NULL in any key column, on a NULL in a
column named ``not_null`` and on a value ``accepted_values`` does not list, and the build's
error shows each failing key with the rule it breaks. Run by dbt itself on both engines, on
tables made to break it (no warehouse build needed)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from revops.load.warehouse import Warehouse
from revops.settings import Settings
from revops.transform import ModelBuildError, _invoke


def _insert(url: str, table: str, columns: str, rows: list[tuple]) -> None:
    names = [c.split()[0] for c in columns.split(", ")]
    with Warehouse(url) as wh, wh.engine.begin() as conn:
        conn.execute(text(f"create schema if not exists {table.split('.')[0]}"))
        conn.execute(text(f"create table if not exists {table} ({columns})"))
        for row in rows:
            conn.execute(text(f"insert into {table} values ({', '.join(':' + n for n in names)})"),
                         dict(zip(names, row, strict=True)))


def _test(settings: Settings, model: str) -> str:
    """The model's primary_key test: "pass", or the failed build's message."""
    args = ["test", "--quiet", "--select", f"{model},test_name:primary_key"]
    try:
        result = _invoke(settings, args)
    except ModelBuildError as failed:
        return str(failed)
    return ", ".join(n["status"] for n in result.nodes)


def test_primary_key_fails_on_a_duplicate_and_a_null(warehouse_url, tmp_path):
    settings = Settings(warehouse_url=warehouse_url, data_dir=tmp_path)
    # fct_touch: `primary_key: {arguments: {columns: [crm, touch_id], not_null: [contact_id, touched_at]}}`
    table, columns = "core.fct_touch", "crm varchar, touch_id varchar, contact_id varchar, touched_at date"
    _insert(warehouse_url, table, columns, [("hubspot", "t1", "c1", "2026-01-01"),
                                            ("salesforce", "t1", "c2", "2026-01-01"),  # one id, two CRMs
                                            ("hubspot", "t2", "c1", "2026-01-02")])
    assert _test(settings, "fct_touch") == "pass"
    _insert(warehouse_url, table, columns, [("hubspot", "t1", "c1", "2026-01-01"),
                                            ("hubspot", None, "c3", "2026-01-01"),
                                            ("salesforce", "t3", None, "2026-01-03"),
                                            ("salesforce", "t4", "c4", None)])
    message = _test(settings, "fct_touch")
    assert "primary_key_fct_touch_crm__touch_id" in message
    assert "the key is not unique" in message and "'touch_id': 't1'" in message
    assert "a key column is null" in message and "'touch_id': None" in message
    assert "'touch_id': 't3'" in message and "contact_id is null" in message
    assert "'touch_id': 't4'" in message and "touched_at is null" in message
    assert "t2" not in message  # a sound key is not reported


def test_primary_key_fails_on_a_value_not_accepted(warehouse_url, tmp_path):
    settings = Settings(warehouse_url=warehouse_url, data_dir=tmp_path)
    # stg_hubspot__touches: primary_key on touch_id, not_null: [touched_at],
    # accepted_values: {touch_type: [form_submission]} (a NULL is accepted, as in dbt's own test)
    table = "staging.stg_hubspot__touches"
    columns = "touch_id varchar, touched_at date, touch_type varchar"
    _insert(warehouse_url, table, columns, [("a", "2026-01-01", "form_submission"), ("b", "2026-01-01", None)])
    assert _test(settings, "stg_hubspot__touches") == "pass"
    _insert(warehouse_url, table, columns, [("c", "2026-01-01", "page_view")])
    message = _test(settings, "stg_hubspot__touches")
    assert "'touch_id': 'c'" in message and "touch_type is not one of form_submission" in message
    assert "'touch_id': 'a'" not in message and "'touch_id': 'b'" not in message
