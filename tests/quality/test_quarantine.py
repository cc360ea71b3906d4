"""A malformed record is quarantined with its reason; the rest of its batch loads (both engines)."""

from __future__ import annotations

import json

from revops import pipeline
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig

WORLD = World(WorldConfig(seed=5, days=10, campaigns_per_account=1))


def test_bad_row_is_quarantined_and_the_rest_loads(warehouse_url, tmp_path):
    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path,
                            http_max_backoff_seconds=0.05)
        sb.app("meta").faults.add("malformed_record", path="/insights")
        wh, run_id = pipeline.prepare(settings, "test")
        result = pipeline.sync_source(settings, wh, run_id, "meta")
        expected = sb.app("meta").expected_keys("ads_insights")
    insights = next(s for s in result.streams if s.stream == "ads_insights")
    assert insights.rows_quarantined == 1
    assert insights.rows_loaded == insights.rows_extracted - 1
    q = wh.fetch_all("select source, stream, record_key, record, reasons from ops.quarantine")
    assert len(q) == 1
    assert (q[0]["source"], q[0]["stream"]) == ("meta", "ads_insights")
    assert json.loads(q[0]["record"])["spend"] == "N/A"
    assert q[0]["reasons"].startswith("spend must match") and "N/A" in q[0]["reasons"]
    loaded = {(r["ad_id"], r["date_start"]) for r in wh.fetch_all('select ad_id, date_start from raw."meta__ads_insights"')}
    bad_key = tuple(q[0]["record_key"].split("|"))
    assert bad_key not in loaded
    assert loaded | {bad_key} == expected
    stats = wh.fetch_all("select rows_quarantined from ops.run_streams where stream = 'ads_insights'")
    assert stats == [{"rows_quarantined": 1}]
    # every raw batch's suite result is recorded; exactly one expectation failed, once
    failed = wh.fetch_all(
        "select suite, expectation_type, unexpected_count from ops.quality_results"
        " where layer = 'raw' and not success"
    )
    assert failed == [{"suite": "raw__meta__ads_insights",
                       "expectation_type": "expect_column_values_to_match_regex", "unexpected_count": 1}]
    # one suite per Meta stream (ad_accounts, campaigns, ads, ads_insights)
    assert wh.scalar("select count(distinct suite) from ops.quality_results where layer = 'raw'") == 4
    wh.dispose()
