"""Offline spend end to end on both engines: sandbox (fake nginx folder) -> connector ->
GX quarantine -> warehouse -> dbt staging, compared with the world to the cent. One dbt build
per engine (~5 s each), so it lives here rather than in the fast tests/sources/test_offline.py."""

from __future__ import annotations

import pytest

import json
from datetime import timedelta
from decimal import Decimal

import pyarrow as pa

from revops.sandbox.world import OFFLINE_CAMPAIGNS, offline_campaign_id
from revops.sources.offline.streams import SPEND_LINES
from tests.sources.test_offline import _settings, _world_sums, app, server, world  # noqa: F401  (fixtures)

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow


def test_sandbox_to_staging_quarantines_bad_lines_and_equals_the_world(server, app, world, warehouse_url, tmp_path):
    from revops import pipeline
    from revops.transform import build

    settings = _settings(server, world, warehouse_url=warehouse_url, data_dir=tmp_path)
    wh, run_id = pipeline.prepare(settings, "test")
    # run 1: a week earlier, with finance's typos in June's file
    app.as_of = world.now - timedelta(days=7)
    app.faults.add("malformed_rows")
    pipeline.sync_source(settings, wh, run_id, "offline")
    bad = app.malformed_lines()
    quarantined = wh.fetch_all("select record_key, record, reasons from ops.quarantine where source = 'offline'")
    assert {q["record_key"] for q in quarantined} == {f"{f}|{n}" for f, n in bad}
    for q in quarantined:
        record = json.loads(q["record"])
        kind = bad[(record["file_name"], int(record["line_number"]))]
        word = {"bad date": "date", "non-numeric amount": "amount", "bad currency code": "currency",
                "missing campaign": "campaign"}[kind]
        assert word in q["reasons"], (kind, q["reasons"])
    loaded = {r["k"] for r in wh.fetch_all(
        "select file_name || '|' || line_number as k from raw.offline__spend_lines")}
    assert loaded == {f"{f}|{n}" for f, n in app.expected_keys("spend_lines")} - {f"{f}|{n}" for f, n in bad}
    # run 2: the world's clock; June's typos were fixed (the file shrank), July was restated
    app.malformed, app.as_of = False, world.now
    pipeline.sync_source(settings, wh, run_id, "offline")
    # a line an older version of June's file had, beyond its current end, stays in raw...
    stale = {"file_name": "2026-06.csv", "line_number": "999", "file_version": '"0-0"', "date": "2026-06-02",
             "channel": "print", "campaign": "Trade Journal Print", "amount": "99999.00", "currency": "EUR",
             "campaign_id": "offline-trade-journal-print", "field_count": "5"}
    wh.load_batch(source="offline", stream="spend_lines", primary_key=SPEND_LINES.primary_key, state=None,
                  run_id=run_id, table=pa.Table.from_pylist([stale], SPEND_LINES.schema))
    wh.dispose()
    build(settings, select="staging.offline")
    # ...but staging keeps only each file's current version, and equals the world to the cent
    daily = wh.fetch_all("select * from staging.stg_offline__ad_daily")
    got = {(r["campaign_id"], r["date_day"].isoformat(), r["currency"]): Decimal(r["spend_native"]) for r in daily}
    assert got == _world_sums(world, world.now)
    names = {offline_campaign_id(n): n for n, _, _ in OFFLINE_CAMPAIGNS}
    for r in daily:
        assert (r["platform"], r["account_id"], r["campaign_name"]) == ("offline", "offline", names[r["campaign_id"]])
        assert r["ad_group_id"] is r["ad_group_name"] is r["ad_id"] is r["ad_name"] is None
        assert (r["impressions"], r["clicks"], r["platform_conversions"]) == (0, 0, 0)
    campaigns = wh.fetch_all("select campaign_id, campaign_name, objective, status from staging.stg_offline__campaigns")
    assert {(c["campaign_id"], c["campaign_name"], c["objective"], c["status"]) for c in campaigns} == {
        (offline_campaign_id(n), n, kind, None) for n, kind, _ in OFFLINE_CAMPAIGNS}
    accounts = wh.fetch_all("select * from staging.stg_offline__accounts")
    first = min(world.ad_days_as_of(world.now, "offline"), key=lambda d: (d.day, [n for n, _, _ in OFFLINE_CAMPAIGNS].index(world.campaign_by_id[d.ad.campaign_id].name)))
    assert accounts == [{"platform": "offline", "account_id": "offline", "account_name": "Offline spend",
                         "currency": world.currency_of(first.ad), "timezone": None,
                         "date_day_basis": "calendar", "date_day_timezone": None}]
    wh.dispose()
