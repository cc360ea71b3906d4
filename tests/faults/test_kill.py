"""``kill -9`` at three points of a real run, in a child process (its whole process group, dbt
included), then a rerun, on both engines: nothing half-published, nothing lost or doubled, the
killed runs marked ``abandoned``, the final marts equal to ground truth.

1. during extraction (after a few Meta insights pages were loaded): no mart exists;
2. during ``dbt build`` (the dbt child is running): still no mart;
3. after dbt, in the quality gate or the publish: the marts are either absent or complete and
   true (publish is one transaction), never half;
then a clean rerun resumes from the checkpoints and publishes the truth.
One warehouse per engine: one partial and two full dbt builds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests import pg
from tests.kpi_compare import diff_rows, fetch_like

pytestmark = [pytest.mark.slow, pytest.mark.faults]

WORLD = World(WorldConfig(seed=17, days=30, rename_campaigns=False))
META_ROWS = sum(1 for r in WORLD.ad_days if r.ad.platform == "meta")
KEYS = ("date_day", "platform", "campaign_id")
RUN = "from revops import pipeline; from revops.settings import Settings; pipeline.run(Settings(), 'kill-test')"
ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid`` (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            try:
                cmd = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = ""
            out.append((child, cmd))
            todo.append(child)
    return out


def _dbt_running(pid: int) -> bool:
    return any("dbt" in cmd and "build" in cmd for _, cmd in _descendants(pid))


def _wait(cond, proc, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, f"the run ended (code {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _kill(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("warehouse_url", ["duckdb", "postgresql"], indirect=True)
def test_kill_9_at_three_points_then_rerun(warehouse_url, tmp_path):
    with sandboxes(WORLD) as sb:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
        env.update(sb.env, REVOPS_WAREHOUSE_URL=warehouse_url, REVOPS_DATA_DIR=str(tmp_path / "data"),
                   REVOPS_HTTP_MAX_BACKOFF_SECONDS="0.05", REVOPS_META_PAGE_SIZE="50",
                   PYTHONPATH=str(ROOT))
        if warehouse_url.startswith("postgresql"):
            env.setdefault("REVOPS_TEST_PG_DSN", os.environ.get("REVOPS_TEST_PG_DSN", ""))

        def start():
            return subprocess.Popen([sys.executable, "-c", RUN], env=env, cwd=tmp_path,
                                    start_new_session=True, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)

        def state():
            wh = Warehouse(warehouse_url)
            try:
                return {
                    "runs": [r["status"] for r in wh.fetch_all("select status from ops.runs order by started_at")],
                    "meta": wh.scalar('select count(*) from raw."meta__ads_insights"')
                    if wh.table_exists("raw", "meta__ads_insights") else 0,
                    "published": wh.table_exists("marts", "kpi_channel_daily"),
                }
            finally:
                wh.dispose()

        # 1. mid-extraction: after 5 Meta insights pages
        proc = start()
        insights = sb.app("meta")
        _wait(lambda: len(insights.requests_to("/insights")) >= 6, proc, "Meta's 6th insights page")
        _kill(proc)
        s1 = state()
        assert s1["runs"] == ["running"] and not s1["published"]
        assert s1["meta"] < META_ROWS

        # 2. mid-dbt: a second run resumes the extraction and is killed while dbt builds
        proc = start()
        _wait(lambda: _dbt_running(proc.pid), proc, "dbt build")
        time.sleep(3)
        _kill(proc)
        s2 = state()
        assert s2["runs"] == ["abandoned", "running"] and not s2["published"]
        assert s2["meta"] == META_ROWS  # the extraction finished: resumed, nothing doubled (key)

        # 3. after dbt (the quality gate or the publish)
        proc = start()
        _wait(lambda: _dbt_running(proc.pid), proc, "dbt build")
        _wait(lambda: not _dbt_running(proc.pid), proc, "dbt build to end")
        _kill(proc)
        s3 = state()
        assert s3["runs"][:2] == ["abandoned", "abandoned"]
        want = truth.kpi_channel_daily(WORLD)
        if s3["published"]:  # the publish committed before the kill: then whole and true
            wh = Warehouse(warehouse_url)
            assert diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, KEYS) == []
            wh.dispose()

        # the rerun publishes the truth
        proc = start()
        assert proc.wait(timeout=600) == 0
    wh = Warehouse(warehouse_url)
    runs = [r["status"] for r in wh.fetch_all("select status from ops.runs order by started_at")]
    assert runs[:3] == ["abandoned"] * 3 and runs[3] == "completed" and len(runs) == 4
    assert wh.scalar('select count(*) from raw."meta__ads_insights"') == META_ROWS
    assert wh.scalar('select count(*) - count(distinct ad_id || date_start) from raw."meta__ads_insights"') == 0
    assert diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, KEYS) == []
    wh.dispose()
