"""How a run ends when sources fail, without dbt (cheap; the mart-level proof is
test_degraded_source.py): per-source freshness bookkeeping, every source failing, the Prefect
state and the CLI exit code of a degraded run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig

pytestmark = pytest.mark.faults

WORLD = World(WorldConfig(seed=5, days=10, rename_campaigns=False))


def test_freshness_fresh_then_stale_keeps_the_last_success(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.ensure_schemas()
    t0 = datetime(2026, 7, 1, 2, tzinfo=UTC)
    assert wh.record_freshness("r0", "linkedin", "ad_platform", error="FatalAPIError: revoked", at=t0) == "failed"
    assert wh.record_freshness("r1", "linkedin", "ad_platform", rows=120, at=t0 + timedelta(days=1)) == "fresh"
    assert wh.record_freshness("r2", "linkedin", "ad_platform", rows=0, error="RetriableAPIError: HTTP 503",
                               at=t0 + timedelta(days=2)) == "stale"
    rows = wh.fetch_all("select * from ops.source_freshness")
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["last_run_id"], row["rows_last_success"]) == ("stale", "r2", 120)
    assert row["error"] == "RetriableAPIError: HTTP 503"
    assert row["last_success_at"].astimezone(UTC) == t0 + timedelta(days=1)
    assert row["last_attempt_at"].astimezone(UTC) == t0 + timedelta(days=2)
    assert wh.record_freshness("r3", "linkedin", "ad_platform", rows=5, at=t0 + timedelta(days=3)) == "fresh"
    row = wh.fetch_all("select * from ops.source_freshness")[0]
    assert (row["status"], row["error"], row["rows_last_success"]) == ("fresh", None, 5)
    wh.dispose()


def test_every_source_failing_fails_the_run_and_publishes_nothing(warehouse_url, tmp_path):
    """Nothing new to build: the run fails (exit 1), the freshness rows say why, no dbt ran."""
    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path, http_max_backoff_seconds=0.01)
        sb.app("meta").token = "revoked"
        sb.app("linkedin").faults.add("server_error", times=100_000)
        with pytest.raises(pipeline.AllSourcesFailed, match="meta.*REVOPS_META_ACCESS_TOKEN") as failed:
            pipeline.run(settings, "test", ["meta", "linkedin"])
    from revops.errors import what_to_fix
    from revops.sources.errors import FatalAPIError

    # the CLI's one line is the first source's own error, naming its variable
    assert isinstance(failed.value.__cause__, FatalAPIError)
    assert what_to_fix(failed.value).startswith("meta: ") and "REVOPS_META_ACCESS_TOKEN" in what_to_fix(failed.value)
    wh = Warehouse(warehouse_url)
    run = wh.fetch_all("select status, message from ops.runs")
    assert [r["status"] for r in run] == ["failed"] and "every source failed" in run[0]["message"]
    fresh = {r["source"]: r for r in wh.fetch_all("select * from ops.source_freshness")}
    assert {s: r["status"] for s, r in fresh.items()} == {"meta": "failed", "linkedin": "failed"}
    assert "HTTP 500" in fresh["linkedin"]["error"]
    assert not wh.table_exists("marts_build", "kpi_channel_daily")  # dbt never ran
    assert not wh.table_exists("marts", "kpi_channel_daily")
    wh.dispose()


def test_guarded_turns_a_source_failure_into_a_result():
    def boom(*_):
        raise RuntimeError("the API moved")

    failed = pipeline.guarded("meta", boom, 1)
    assert (failed.source, failed.error, failed.streams) == ("meta", "RuntimeError: the API moved", [])
    ok = pipeline.guarded("meta", lambda: pipeline.SourceResult("meta"))
    assert ok.error is None
    with pytest.raises(KeyboardInterrupt):  # an operator's interrupt is not a source failure
        pipeline.guarded("meta", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))


def test_degraded_run_ends_completed_with_warnings_and_exit_code_3():
    import typer

    from flows.nightly_sync import WARNINGS_STATE, final_state
    from revops.cli import EXIT_WARNINGS, _exit_on_warnings

    clean = {"failed": {}, "held": [], "summary": {}}
    assert final_state(clean) is clean
    _exit_on_warnings(clean)  # no exit
    degraded = {"failed": {"meta": "FatalAPIError: set REVOPS_META_ACCESS_TOKEN"}, "held": [], "summary": {}}
    state = final_state(degraded)
    assert state.name == WARNINGS_STATE == "CompletedWithWarnings"
    assert state.is_completed() and "meta" in state.message
    with pytest.raises(typer.Exit) as exit_:
        _exit_on_warnings(degraded)
    assert exit_.value.exit_code == EXIT_WARNINGS == 3


@pytest.mark.e2e
@pytest.mark.slow  # a Prefect API server (once per worker) and a flow run
def test_flow_extracts_concurrently_and_a_failed_task_is_a_failed_result(prefect_api, duckdb_url, tmp_path):
    """The flow's concurrent extraction (Prefect tasks): a source whose task fails is a failed
    result beside the others' rows, not an exception that stops them. No dbt."""
    from prefect import flow

    from flows.nightly_sync import _extract_concurrently

    @flow
    def extract_only(settings, run_id):
        return _extract_concurrently(settings, run_id, ["meta", "linkedin"])

    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=duckdb_url, data_dir=tmp_path, http_max_backoff_seconds=0.01)
        sb.app("meta").token = "revoked"  # fatal: the task is not retried
        wh, run_id = pipeline.prepare(settings, "test")
        wh.dispose()
        results = {r.source: r for r in extract_only(settings, run_id)}
    assert "REVOPS_META_ACCESS_TOKEN" in results["meta"].error and results["meta"].streams == []
    assert results["linkedin"].error is None and results["linkedin"].rows_loaded > 0
    wh = Warehouse(duckdb_url)
    assert wh.scalar('select count(*) from raw."linkedin__ad_analytics"') > 0
    wh.dispose()
