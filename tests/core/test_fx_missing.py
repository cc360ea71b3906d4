"""Spend that needs an ECB rate the warehouse lacks is held back and quarantined naming the
currency and the days, never a silent zero, and never the end of the run: every other row
(the same platform's USD account, the other platforms) still publishes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

# Google Ads UK spends in GBP; 20 days so early rates fall outside the ECB lookback re-read
WORLD = World(WorldConfig(seed=5, days=20, platforms=("meta", "google_ads")))


def test_missing_rate_holds_back_those_rows_naming_currency_and_days(warehouse_url, tmp_path):
    cut = WORLD.start + timedelta(days=4)
    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path, http_max_backoff_seconds=0.02)
        pipeline.run(settings, "test")
        with Warehouse(warehouse_url) as wh:
            before = wh.fetch_all("select * from core.fct_ad_daily")
            with wh.engine.begin() as conn:  # the GBP rates of the first days never arrived
                conn.execute(text(f"delete from raw.ecb__rates where currency = 'GBP' and rate_date <= '{cut}'"))
                wh.mark_unbuilt(conn, "ecb", "rates", "test")  # a raw edit by hand says so
        # the next ECB sync (the same clock: the ad platforms would re-read what raw holds)
        result = pipeline.run(settings, "test", ["ecb"])
    # the rows that converted at a GBP rate now deleted (a weekend day takes Friday's publication)
    held = [r for r in before if r["currency"] == "GBP" and r["fx_rate_date"] <= cut]
    kept = [r for r in before if not (r["currency"] == "GBP" and r["fx_rate_date"] <= cut)]
    assert held and kept
    grain = ("platform", "account_id", "campaign_id", "ad_group_id", "ad_id", "date_day")
    with Warehouse(warehouse_url) as wh:
        after = wh.fetch_all("select * from core.fct_ad_daily")
        missing = wh.fetch_all("select * from core.fct_ad_daily_fx_missing")
        quarantined = wh.fetch_all(
            "select source, stream, record_key, reasons from ops.quarantine where run_id = :r", r=result.run_id)
        status = wh.scalar("select status from ops.runs where run_id = :r", r=result.run_id)
        published = wh.scalar("select coalesce(sum(spend), 0) from marts.kpi_channel_daily")
    assert status == "completed"
    # exactly the GBP rows of those days are held back; every other row converts as before
    key = lambda r: tuple(r[k] for k in grain)  # noqa: E731
    assert sorted(map(key, after)) == sorted(map(key, kept))
    assert sorted(map(key, missing)) == sorted(map(key, held))
    assert published == sum(r["spend"] for r in kept)
    # quarantined with the fact's grain and a reason naming currency and day; no USD/EUR rows
    assert len(quarantined) == len(held)
    assert {q["source"] for q in quarantined} == {"google_ads"}
    assert all(q["stream"] == "ad_daily" and q["reasons"].startswith("no ECB rate for GBP on or before ")
               for q in quarantined)
    assert not [q for q in quarantined if "USD" in q["reasons"].split("(")[0] or "EUR" in q["reasons"]]
