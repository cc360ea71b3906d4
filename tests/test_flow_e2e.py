"""`make demo` end to end: the real CLI running the nightly Prefect flow against the built-in
sandbox (the flow's retries and secrets: tests/test_operator_commands.py, its schedule:
tests/test_deployment.py)."""

from __future__ import annotations

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.world import World, WorldConfig
from tests.cli.run import clean_env, revops
from tests.kpi_compare import diff_rows

KEYS = ("date_day", "platform", "campaign_id", "channel")
MART_SQL = "select * from marts.kpi_channel_daily"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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
