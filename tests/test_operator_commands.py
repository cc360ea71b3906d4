"""The operator commands end to end, through the real CLI and Prefect flows against the sandbox
and one DuckDB warehouse: ``revops sync [--source] [--full-refresh]``, ``revops backfill``
(resumable, idempotent), ``revops report``, ``revops dbt``; a busy warehouse exits 75."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests

from revops import backfill as backfill_mod
from revops import pipeline
from revops.cli import EXIT_BUSY
from revops.load.warehouse import Warehouse
from revops.load.writer_lock import WriterLock
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests.kpi_compare import diff_rows, fetch_like


pytestmark = [pytest.mark.slow, pytest.mark.e2e]

KEYS = ("date_day", "platform", "campaign_id", "channel")
INSIGHTS = "raw.meta__ads_insights"


@dataclass
class Done:
    exit_code: int
    output: str


#: the environment of the CLI's processes (set by the module fixture)
ENV: dict[str, str] = {}


def _cli(*args: str, env: dict[str, str] | None = None) -> Done:
    """``revops ARGS`` as an operator runs it: its own process, settings from the environment."""
    proc = subprocess.run([sys.executable, "-m", "revops.cli", *args], env=env or ENV, capture_output=True,
                          text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    return Done(proc.returncode, proc.stdout + proc.stderr)


def _marts_equal_truth(url: str, world: World) -> list[str]:
    with Warehouse(url) as wh:
        want = truth.kpi_channel_daily(world)
        return diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, KEYS)


@pytest.fixture(scope="module")
def synced(prefect_api, tmp_path_factory):
    """`revops sync` once (every source) into a fresh DuckDB warehouse, the sandbox still up; a
    throttle and a server error on the way (the connectors retry, the nightly flow completes)."""
    world = World(WorldConfig(seed=11, days=10, rename_campaigns=False))
    tmp = tmp_path_factory.mktemp("operator")
    url = f"duckdb:///{tmp / 'warehouse.duckdb'}"
    with sandboxes(world) as sb:
        ENV.clear()
        ENV.update({**os.environ, **sb.env, "REVOPS_WAREHOUSE_URL": url, "REVOPS_DATA_DIR": str(tmp / "data"),
                    "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.05", "PREFECT_API_URL": prefect_api,
                    "PREFECT_HOME": str(tmp / "prefect"), "COLUMNS": "200"})
        sb.app("meta").faults.add("rate_limit")
        sb.app("hubspot").faults.add("server_error")
        result = _cli("sync")
        assert result.exit_code == 0, result.output
        settings = sb.settings(warehouse_url=url, data_dir=tmp / "data", http_max_backoff_seconds=0.05)
        yield {"url": url, "world": world, "tmp": tmp, "settings": settings, "output": result.output,
               "sb": sb, "secrets": [v for k, v in sb.env.items() if k.endswith(("TOKEN", "SECRET"))],
               "faults_left": {p: len(sb.app(p).faults._items) for p in ("meta", "hubspot")}}


def _state(url: str) -> dict:
    with Warehouse(url) as wh:
        return {(r["source"], r["stream"]): r["state"] for r in wh.fetch_all("select * from ops.sync_state")}


def test_sync_publishes_truth(synced):
    assert _marts_equal_truth(synced["url"], synced["world"]) == []


def test_sync_retries_completes_and_leaks_no_secret(synced):
    """The nightly flow through the CLI rode out a 429 and a 500 (both served: the retries were
    needed), completed with every stream loaded, and no token or client secret of the
    environment reached its output, the ops tables, the report or the Prefect API's logs."""
    assert synced["faults_left"] == {"meta": 0, "hubspot": 0}
    secrets = synced["secrets"]
    assert len(secrets) >= 6  # every platform's token, refresh token or client secret
    with Warehouse(synced["url"]) as wh:
        first = wh.fetch_all("select run_id, status from ops.runs order by started_at")[0]
        streams = wh.fetch_all("select source, stream, rows_loaded from ops.run_streams where run_id = :r",
                               r=first["run_id"])
        ops_text = str(wh.fetch_all("select * from ops.runs")) + str(wh.fetch_all("select * from ops.run_streams"))
    assert first["status"] == "completed"
    assert {(r["source"], r["stream"]) for r in streams} >= {("meta", "ads_insights"), ("hubspot", "contacts")}
    assert all(r["rows_loaded"] > 0 for r in streams)
    report = (synced["tmp"] / "data" / "report" / "kpi_report.html").read_text()
    logs, offset = [], 0
    while page := requests.post(f"{ENV['PREFECT_API_URL']}/logs/filter",
                                json={"limit": 200, "offset": offset}, timeout=10).json():
        logs += [entry["message"] for entry in page]
        offset += len(page)
    assert logs
    for secret in secrets:
        assert secret not in synced["output"]
        assert secret not in ops_text
        assert secret not in report
        assert not [m for m in logs if secret in m]


def test_sync_one_source_full_refresh_rereads_it_and_merges(synced):
    """...and without a Prefect API (none configured anywhere) in-process: no temporary Prefect
    server started (it would create its database in PREFECT_HOME)."""
    url = synced["url"]
    with Warehouse(url) as wh:
        rows_before = wh.scalar(f"select count(*) from {INSIGHTS}")
        first = wh.fetch_all("select stream, rows_loaded from ops.run_streams where source = 'meta'")
    prefect_home = synced["tmp"] / "prefect-unused"
    prefect_home.mkdir()
    no_api = {k: v for k, v in ENV.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(prefect_home)}
    result = _cli("sync", "--source", "meta", "--full-refresh", env=no_api)
    assert result.exit_code == 0, result.output
    assert list(prefect_home.iterdir()) == []
    with Warehouse(url) as wh:
        run_id = wh.scalar("select run_id from ops.runs order by started_at desc limit 1")
        streams = wh.fetch_all("select source, stream, rows_loaded, state_before from ops.run_streams "
                               "where run_id = :r", r=run_id)
        rows_after = wh.scalar(f"select count(*) from {INSIGHTS}")
    assert {s["source"] for s in streams} == {"meta"}
    assert all(s["state_before"] is None for s in streams)  # the saved cursor was ignored
    # everything re-read (not only the lookback), and merged: no row twice
    assert {s["stream"]: s["rows_loaded"] for s in streams} == {f["stream"]: f["rows_loaded"] for f in first}
    assert rows_after == rows_before
    # the incremental fact was rebuilt whole (its select of changed partitions not compiled)
    results = json.loads((synced["tmp"] / "data" / "dbt" / "target" / "run_results.json").read_text())
    fct = next(r for r in results["results"] if r["unique_id"].endswith(".fct_ad_daily"))
    assert fct["status"] == "success" and "changed_partitions" not in fct["compiled_code"]
    assert _marts_equal_truth(url, synced["world"]) == []


def test_backfill_resumes_after_a_crash_and_is_idempotent(synced):
    url = synced["url"]
    state_before = _state(url)
    with Warehouse(url) as wh:
        rows_before = wh.scalar(f"select count(*) from {INSIGHTS}")
    calls = []

    def crash_on_second_chunk(settings, run_id, source, window):
        calls.append(window)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return pipeline.extract_source(settings, run_id, source, window=window)

    start, end = date(2026, 6, 2), date(2026, 6, 7)
    with pytest.raises(RuntimeError, match="worker killed"):
        backfill_mod.run_backfill(synced["settings"], start, end, ["meta"], 2, chunk=crash_on_second_chunk)
    with Warehouse(url) as wh:
        crashed = wh.scalar("select run_id from ops.runs where flow = 'backfill' and status = 'failed'")
        assert [r["since"] for r in wh.fetch_all("select since from ops.backfill_chunks")] == [start]

    meta = synced["sb"].app("meta")
    seen = len(meta.log)
    result = _cli("backfill", "--start", "2026-06-02", "--end", "2026-06-07", "--source", "meta",
                  "--chunk-days", "2")
    assert result.exit_code == 0, result.output
    with Warehouse(url) as wh:
        loaded_by = {r["_load_id"] for r in wh.fetch_all(
            f"select distinct _load_id from {INSIGHTS} where date_start between '2026-06-02' and '2026-06-07'")}
        assert wh.scalar("select count(*) from ops.backfill_chunks") == 0  # forgotten once published
        rows_after = wh.scalar(f"select count(*) from {INSIGHTS}")
    # the resumed run read only the chunks the crashed one had not finished
    read = {json.loads(r.args["time_range"])["since"] for r in meta.log[seen:] if "insights" in r.path}
    assert read == {"2026-06-04", "2026-06-06"}
    # the sandbox's world did not change since the sync: every re-read row was already stored as
    # it is, so neither run wrote one (the rows keep the sync's load id)
    assert crashed not in loaded_by and len(loaded_by) == 1
    assert rows_after == rows_before  # re-read days merged on the key
    assert _state(url) == state_before  # the nightly cursor did not move
    assert _marts_equal_truth(url, synced["world"]) == []
    # each chunk is a Prefect task named by source and days (what the UI lists)
    resp = requests.post(f"{ENV['PREFECT_API_URL']}/task_runs/filter",
                         json={"task_runs": {"name": {"like_": "backfill meta%"}}}, timeout=10)
    names = {t["name"] for t in resp.json()}
    assert {"backfill meta 2026-06-04..2026-06-05", "backfill meta 2026-06-06..2026-06-07"} <= names, names


def test_backfill_refuses_a_crm_and_a_reversed_range(synced):
    result = _cli("backfill", "--start", "2026-06-02", "--end", "2026-06-07", "--source", "hubspot")
    assert result.exit_code == 2 and "--full-refresh" in result.output
    result = _cli("backfill", "--start", "2026-06-07", "--end", "2026-06-02")
    assert result.exit_code == 2 and "after" in result.output


def test_sync_writes_the_report_and_speaks_to_the_business(synced):
    """`revops sync` ends with the period, currency, headline KPIs against the previous month, data
    health and the report's path (written under the data dir, linked from the Prefect run); the
    per-table dump only with --verbose."""
    out = synced["output"]
    report = synced["tmp"] / "data" / "report" / "kpi_report.html"
    assert 'id="data-health"' in report.read_text()
    assert f"KPI report: {report}" in out.replace("\n", "")
    for text in ("KPIs for ", "in USD", "Ad spend", "Revenue won", "Stale sources:", "Quarantined rows:",
                 "Unattributed leads:"):
        assert text in out, text
    assert "Rows per table" not in out and "raw.hubspot__contacts" not in out
    resp = requests.post(f"{ENV['PREFECT_API_URL']}/artifacts/filter",
                         json={"artifacts": {"key": {"any_": ["kpi-report"]}}}, timeout=10)
    assert any(report.resolve().as_uri() in a["data"] for a in resp.json()), resp.json()


def test_report_writes_html_from_the_published_marts(synced):
    out = synced["tmp"] / "report.html"
    result = _cli("report", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert all(f'id="{s}"' in out.read_text() for s in ("scorecard", "pipeline", "data-health"))
    assert f"KPI report: {out}" in result.output.replace("\n", "") and "in USD" in result.output


def test_dbt_docs_generate_gives_lineage(synced):
    import json

    result = _cli("dbt", "docs", "generate")
    assert result.exit_code == 0, result.output
    target = synced["tmp"] / "data" / "dbt" / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    assert "model.revops.fct_ad_daily" in manifest["parent_map"]["model.revops.kpi_channel_daily"]
    catalog = json.loads((target / "catalog.json").read_text())
    assert "model.revops.kpi_channel_daily" in catalog["nodes"]


def test_a_second_writer_exits_75_naming_the_first(synced):
    with WriterLock(synced["url"], "run-holding"):
        result = _cli("sync", "--source", "ecb")
        dbt = _cli("dbt", "ls")
    assert result.exit_code == EXIT_BUSY
    assert "another run (run-holding, started" in result.output
    assert dbt.exit_code == EXIT_BUSY
