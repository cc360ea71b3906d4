"""One writer at a time: the warehouse-wide writer lock (PostgreSQL advisory lock, DuckDB lock
file), on both engines; one test runs two real pipelines at once."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.load.writer_lock import WarehouseBusy, WriterLock, lock_file_for
from revops.settings import Settings

BUSY = re.compile(r"another run \((?P<run>[0-9a-z-]+), started (?P<at>\S+), host (?P<host>\S+), "
                  r"pid (?P<pid>\d+)\) is writing this warehouse")


def test_second_writer_fails_at_once_naming_the_first(warehouse_url):
    with Warehouse(warehouse_url) as wh:
        wh.ensure_schemas()
    first = WriterLock(warehouse_url, "run-first")
    first.acquire()
    try:
        with Warehouse(warehouse_url) as wh:
            wh.start_run("test", "run-first")
        started = time.monotonic()
        with pytest.raises(WarehouseBusy) as busy:
            WriterLock(warehouse_url, "run-second").acquire()
        # a lock that waited would wait for the first's release, which comes after this check:
        # a bound far above any load's noise still tells the two apart
        assert time.monotonic() - started < 10, "the second run must not wait"
        m = BUSY.fullmatch(str(busy.value))
        assert m, str(busy.value)
        assert (m["run"], m["host"], int(m["pid"])) == ("run-first", socket.gethostname(), os.getpid())
        # the first goes on writing and finishes
        with Warehouse(warehouse_url) as wh:
            wh.finish_run("run-first", "completed")
    finally:
        first.release()
    # once the first has let go, the next run gets the lock
    with WriterLock(warehouse_url, "run-third"):
        pass
    with Warehouse(warehouse_url) as wh:
        assert wh.fetch_all("select run_id, status from ops.runs") == [
            {"run_id": "run-first", "status": "completed"}]


_HOLD = """
import sys, time
from revops.load.warehouse import Warehouse
from revops.load.writer_lock import WriterLock
url = sys.argv[1]
lock = WriterLock(url, "run-killed")  # kept referenced: a collected lock lets go
lock.acquire()
wh = Warehouse(url)
wh.ensure_schemas()
wh.start_run("nightly_sync", "run-killed")
wh.dispose()
print("holding", flush=True)
time.sleep(600)
"""


def test_running_row_of_a_killed_run_becomes_abandoned(warehouse_url, tmp_path):
    child = subprocess.Popen([sys.executable, "-c", _HOLD, warehouse_url], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout.readline().strip() == "holding"
        # alive: it holds the lock, and the message names it (its host and pid from another process)
        with pytest.raises(WarehouseBusy) as busy:
            WriterLock(warehouse_url, "run-next").acquire()
        m = BUSY.fullmatch(str(busy.value))
        assert m and (m["run"], int(m["pid"])) == ("run-killed", child.pid), str(busy.value)
    finally:
        child.kill()  # SIGKILL: no finally, no atexit in the child
        child.wait()
    settings = Settings(_env_file=None, warehouse_url=warehouse_url, data_dir=tmp_path / "data")
    with WriterLock(warehouse_url, "run-next") as lock:
        pipeline.start_run(settings, "test", lock.holder.run_id)
    with Warehouse(warehouse_url) as wh:
        runs = {r["run_id"]: r for r in wh.fetch_all("select * from ops.runs")}
    assert runs["run-killed"]["status"] == "abandoned"
    assert runs["run-killed"]["finished_at"] is not None
    assert f"pid {child.pid}" in runs["run-killed"]["message"]
    assert runs["run-killed"]["host"] == socket.gethostname()
    assert (runs["run-next"]["status"], runs["run-next"]["pid"]) == ("running", os.getpid())


@pytest.mark.slow
def test_two_pipeline_runs_at_once_the_second_exits_the_first_publishes(tmp_path):
    """The real pipeline twice on one DuckDB file: the second fails at once naming the first,
    which completes and publishes the truth."""
    from revops.sandbox import truth
    from revops.sandbox.harness import sandboxes
    from revops.sandbox.world import World, WorldConfig
    from tests.kpi_compare import diff_rows, fetch_like

    world = World(WorldConfig(seed=11, days=10, rename_campaigns=False))
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    lock_file = lock_file_for(str(tmp_path / "warehouse.duckdb"))
    results: dict[str, object] = {}
    with sandboxes(world) as sb:
        settings = sb.settings(warehouse_url=url, data_dir=tmp_path / "data", http_max_backoff_seconds=0.05)

        def first() -> None:
            try:
                results["first"] = pipeline.run(settings, "test")
            except BaseException as exc:  # noqa: BLE001 - reported below
                results["first"] = exc

        thread = threading.Thread(target=first)
        thread.start()
        deadline = time.monotonic() + 60
        while not (lock_file.exists() and lock_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        with pytest.raises(WarehouseBusy) as busy:
            pipeline.run(settings, "test")
        second_seconds = time.monotonic() - started
        thread.join(600)
    assert isinstance(results["first"], pipeline.RunResult), results["first"]
    assert second_seconds < 10  # waiting would have lasted the rest of the first run (~20 s+)
    assert BUSY.fullmatch(str(busy.value))["run"] == results["first"].run_id
    with Warehouse(url) as wh:
        assert wh.fetch_all("select run_id, status from ops.runs") == [
            {"run_id": results["first"].run_id, "status": "completed"}]
        want = truth.kpi_channel_daily(world)
        assert diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, ("date_day", "platform", "campaign_id", "channel")) == []
    assert lock_file.read_text() == ""  # released: no stale holder named
