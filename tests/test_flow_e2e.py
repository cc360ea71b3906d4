"""The real Prefect flow and the real CLI, end to end against the sandboxes (slow: ~20 s each)."""

from __future__ import annotations


import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests.cli.run import clean_env, revops
from tests.kpi_compare import diff_rows, fetch_like

KEYS = ("date_day", "platform", "campaign_id", "channel")
MART_SQL = "select * from marts.kpi_channel_daily"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_nightly_flow_publishes_truth_and_leaks_no_secret(prefect_api, tmp_path, monkeypatch, capfd):
    world = World(WorldConfig(seed=11, days=20, rename_campaigns=False))  # one night
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    with sandboxes(world) as sb:
        for key, value in sb.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("REVOPS_WAREHOUSE_URL", url)
        monkeypatch.setenv("REVOPS_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("REVOPS_HTTP_MAX_BACKOFF_SECONDS", "0.05")
        # a throttle and a server error on the way: the connectors retry, the flow completes
        sb.app("meta").faults.add("rate_limit")
        sb.app("hubspot").faults.add("server_error")
        from flows.nightly_sync import nightly_sync

        result = nightly_sync()
        secrets = [v for k, v in sb.env.items() if k.endswith(("TOKEN", "SECRET"))]
    assert "kpi_channel_daily" in result["published"]
    wh = Warehouse(url)
    want = truth.kpi_channel_daily(world)
    assert diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, KEYS) == []
    runs = wh.fetch_all("select status from ops.runs")
    assert runs == [{"status": "completed"}]
    streams = wh.fetch_all("select source, stream, rows_loaded from ops.run_streams order by 1, 2")
    assert {(r["source"], r["stream"]) for r in streams} >= {("meta", "ads_insights"), ("hubspot", "contacts")}
    assert all(r["rows_loaded"] > 0 for r in streams)
    ops_text = str(wh.fetch_all("select * from ops.runs")) + str(wh.fetch_all("select * from ops.run_streams"))
    wh.dispose()
    out, err = capfd.readouterr()
    # the flow wrote the KPI report under the data dir (and said where)
    report = tmp_path / "data" / "report" / "kpi_report.html"
    assert result["summary"]["report_path"] == str(report) and result["summary"]["headline"]["currency"]
    report_text = report.read_text()
    assert len(secrets) >= 6  # every platform's token, refresh token or client secret
    for secret in secrets:
        assert secret not in out + err
        assert secret not in ops_text
        assert secret not in str(result)
        assert secret not in report_text


def test_demo_matches_truth_and_is_idempotent(prefect_api, tmp_path):
    """``make demo`` twice leaves the same marts, equal to the ground truth: the second run,
    finding the world's two nights run, runs one quiet night at the last clock. Each world has
    a warehouse of its own (``tests/cli/test_demo_home.py``), never the data dir's default."""
    env = clean_env(tmp_path, PREFECT_API_URL=prefect_api)
    home = tmp_path / "data" / "demo" / "seed3-days15"
    marts = []
    for run in range(2):
        proc = revops("demo", "--seed", "3", "--days", "15", env=env, cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        nights = [line.split(":")[0] for line in proc.stdout.splitlines() if line.startswith("night ") and "clock" in line]
        assert nights == (["night 3"] if run == 1 else ["night 1", "night 2"]), proc.stdout[-3000:]
        assert ("a quiet night" in proc.stdout) == (run == 1)
        assert "does not match" not in proc.stdout
        assert "~20 s" not in proc.stdout + proc.stderr
        assert f"warehouse duckdb:///{home / 'warehouse.duckdb'}" in proc.stdout
        assert 'id="data-health"' in (home / "report" / "kpi_report.html").read_text()
        wh = Warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
        marts.append(sorted(wh.fetch_all(MART_SQL), key=lambda r: tuple(str(r[k]) for k in KEYS)))
        wh.dispose()
    assert marts[0] == marts[1]
    want = truth.kpi_channel_daily(World(WorldConfig(seed=3, days=15)))
    assert diff_rows(marts[1], want, KEYS) == []
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
