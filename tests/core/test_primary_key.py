"""The project's ``primary_key`` dbt test (macros/test_primary_key.sql), which stands for a
not_null test per key column plus a unique test: it fails on a duplicated key and on a NULL in
any key column, and the build's error shows each failing key with the rule it breaks. Run by
dbt itself on both engines, on a table made to break it (no warehouse build needed)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from revops.load.warehouse import Warehouse
from revops.settings import Settings
from revops.transform import ModelBuildError, _invoke


def test_primary_key_fails_on_a_duplicate_and_a_null(warehouse_url, tmp_path):
    def insert(rows):
        with Warehouse(warehouse_url) as wh, wh.engine.begin() as conn:
            conn.execute(text("create schema if not exists core"))
            conn.execute(text("create table if not exists core.fct_touch (crm varchar, touch_id varchar)"))
            for crm, touch_id in rows:
                conn.execute(text("insert into core.fct_touch values (:c, :t)"), {"c": crm, "t": touch_id})

    settings = Settings(warehouse_url=warehouse_url, data_dir=tmp_path)
    # fct_touch's key is (crm, touch_id): `primary_key: {arguments: {columns: [crm, touch_id]}}`
    args = ["test", "--quiet", "--select", "fct_touch,test_name:primary_key"]
    insert([("hubspot", "t1"), ("salesforce", "t1"), ("hubspot", "t2")])  # one id in two CRMs: fine
    assert [n["status"] for n in _invoke(settings, args).nodes] == ["pass"]
    insert([("hubspot", "t1"), ("hubspot", None)])
    with pytest.raises(ModelBuildError) as failed:
        _invoke(settings, args)
    message = str(failed.value)
    assert "primary_key_fct_touch_crm__touch_id" in message
    assert "the key is not unique" in message and "'touch_id': 't1'" in message
    assert "a key column is null" in message and "'touch_id': None" in message
    assert "t2" not in message  # a sound key is not reported
