"""ECB rates end to end on both engines: sandbox -> connector -> quality suite -> Warehouse ->
dbt ``stg_ecb__rates``, compared with the rates the world had published, to the last decimal.

The first sync meets a malformed cell (``1.O85``): the suite quarantines that one record with
its reason; the next sync re-reads the lookback and loads the good value, so staging ends equal
to the world.
"""

from __future__ import annotations

import logging

import pytest

import json
from datetime import timedelta
from decimal import Decimal

from revops import pipeline
from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.sources.ecb.streams import HIST_ZIP
from revops.transform import build

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("ecb")

WORLD = World(WorldConfig(seed=5, days=30, platforms=("meta",)))


def test_stg_ecb__rates_equals_the_published_rates(warehouse_url, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="revops")
    app = SANDBOX.app(WORLD, token="unused", as_of=WORLD.now - timedelta(days=5))
    with SandboxServer(app) as server:
        settings = settings_from_env(
            SANDBOX.env(server.url, "", WORLD),
            warehouse_url=warehouse_url,
            data_dir=tmp_path / "data",
            http_max_backoff_seconds=0.02,
        )
        wh, run_id = pipeline.prepare(settings, "test")
        app.faults.add("malformed_record", path=HIST_ZIP)
        first = pipeline.sync_source(settings, wh, run_id, "ecb")
        app.as_of = WORLD.now
        second = pipeline.sync_source(settings, wh, run_id, "ecb")

    (stats,) = first.streams
    assert stats.rows_quarantined == 1
    (bad,) = wh.fetch_all("select record_key, record, reasons from ops.quarantine where source = 'ecb'")
    newest = max(WORLD.fx_published_as_of(WORLD.now - timedelta(days=5)))
    assert bad["record_key"] == f"{newest.isoformat()}|USD"
    assert json.loads(bad["record"])["rate"] == "1.O85" and "rate must match" in bad["reasons"]
    (resumed,) = second.streams
    assert 0 < resumed.rows_loaded < stats.rows_loaded, "the resume re-reads only the lookback"
    assert resumed.state_after == {"rate_date": max(WORLD.fx_published_as_of(WORLD.now)).isoformat()}

    # progress a person can follow: rows per stream as they load, dbt's nodes as they finish
    assert any(r.getMessage().startswith("ecb.rates: ") and "rows/s" in r.getMessage() for r in caplog.records)
    wh.dispose()  # DuckDB: one writer; dbt opens the file next
    result = build(settings, select="staging.ecb")
    assert {n["name"] for n in result.nodes if n["unique_id"].startswith("model.")} == {"stg_ecb__rates"}
    done = [r.getMessage() for r in caplog.records if r.name == "revops.transform"]
    total = len(result.nodes)
    # one line per node, numbered 1..N out of N (threads finish them in any order)
    counters = sorted(m.split()[1] for m in done if m.startswith("dbt "))
    assert counters == sorted(f"{i}/{total}" for i in range(1, total + 1)), done[-3:]
    assert any("stg_ecb__rates" in line and " OK " in line for line in done), done
    assert any("primary_key" in n["unique_id"] for n in result.nodes)

    rows = wh.fetch_all("select rate_date, currency, rate_per_eur from staging.stg_ecb__rates")
    got = {(r["rate_date"], r["currency"]): r["rate_per_eur"] for r in rows}
    first_day = WORLD.start - timedelta(days=14)
    want = {
        (day, cur): rate
        for day, quotes in WORLD.fx_published_as_of(WORLD.now).items()
        if day >= first_day
        for cur, rate in quotes.items()
    }
    assert len(rows) == len(got) == len(want)
    assert got == want
    assert all(isinstance(v, Decimal) for v in got.values())
    types = {
        r["column_name"]: (r["data_type"].lower(), r["numeric_precision"], r["numeric_scale"])
        for r in wh.fetch_all(
            "select column_name, data_type, numeric_precision, numeric_scale "
            "from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'stg_ecb__rates'"
        )
    }
    assert types["rate_date"][0] == "date"
    assert types["currency"][0] in ("varchar", "character varying")
    kind, precision, scale = types["rate_per_eur"]
    assert kind.startswith(("decimal", "numeric")) and (precision, scale) == (18, 6)
    wh.dispose()
