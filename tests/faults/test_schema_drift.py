"""Schema drift through the real extract, validate and load (no dbt), on both engines: a field
nobody asked for (kept as a new raw column), a declared field missing from a record, a value whose type changed. Each bad
record is quarantined with its key and the rule it broke; every other record loads; nothing is
doubled; once the platform sends them right again, a rerun loads them and raw equals the world."""

from __future__ import annotations

import json

import pytest

from revops import pipeline
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig

pytestmark = pytest.mark.faults

WORLD = World(WorldConfig(seed=11, days=20, rename_campaigns=False))
META_ROWS = sum(1 for r in WORLD.ad_days if r.ad.platform == "meta")
KEY_SQL = 'select count(*) - count(distinct ad_id || date_start) from raw."meta__ads_insights"'


def test_new_missing_and_retyped_fields(warehouse_url, tmp_path):
    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path, http_max_backoff_seconds=0.01)
        app = sb.app("meta")
        # one request each, in this order: a new field on every row, one row without spend, one
        # row whose spend is text
        app.faults.add("schema_drift", path="/insights")
        app.faults.add("missing_field", path="/insights")
        app.faults.add("malformed_record", path="/insights")
        wh, run_id = pipeline.prepare(settings, "test")
        result = pipeline.sync_source(settings, wh, run_id, "meta")
        assert not app.faults._items, "every fault was served"
        insights = next(s for s in result.streams if s.stream == "ads_insights")
        assert insights.rows_quarantined == 2
        bad = wh.fetch_all("select record_key, record, reasons from ops.quarantine "
                           "where source = 'meta' and stream = 'ads_insights' order by reasons")
        assert len(bad) == 2
        records = [json.loads(b["record"]) for b in bad]
        assert sorted(str(r.get("spend")) for r in records) == ["N/A", "None"]
        assert all("spend" in b["reasons"] for b in bad) and all(b["record_key"] for b in bad)
        assert wh.scalar('select count(*) from raw."meta__ads_insights"') == META_ROWS - 2
        assert wh.scalar(KEY_SQL) == 0
        with wh.engine.connect() as conn:  # the new field is kept: a new string column in raw
            assert "quality_ranking" in wh.columns(conn, "raw", "meta__ads_insights")
        kept = wh.fetch_all('select quality_ranking, count(*) as n from raw."meta__ads_insights" '
                            "group by quality_ranking order by quality_ranking")
        # the first page carried it (the value the sandbox sent), the later pages did not
        assert [k["quality_ranking"] for k in kept] == ["ABOVE_AVERAGE", None]
        assert 0 < kept[0]["n"] < META_ROWS - 2
        wh.finish_run(run_id, "completed")
        # the platform sends them right again: a full re-read loads them, nothing doubled
        run_id = wh.start_run("test")
        pipeline.sync_source(settings, wh, run_id, "meta", full_refresh=True)
        assert wh.scalar('select count(*) from raw."meta__ads_insights"') == META_ROWS
        assert wh.scalar(KEY_SQL) == 0
        # a re-read row is replaced whole (both engines): the field the platform stopped sending is null
        assert wh.scalar('select count(quality_ranking) from raw."meta__ads_insights"') == 0
        wh.dispose()
