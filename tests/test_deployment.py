"""The deployment as an operator runs it: a real Prefect server started from the project's venv,
``prefect deploy`` of ``deployments/prefect.yaml``, a process worker, and a run created by the
server's scheduler (not by hand) that completes and publishes the sandbox's ground truth.

This is the only test that proves the schedule fires (issue 12: with SQLAlchemy 2.1 Prefect
3.8.8's scheduler failed every minute and never created a run). Costs one server start, one
worker and one small pipeline run (~1-3 min on 2 busy cores)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests.kpi_compare import diff_rows, fetch_like

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the project's venv: the worker runs flows with its python
KEYS = ("date_day", "platform", "campaign_id", "channel")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, procs: dict[str, subprocess.Popen], every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}) while waiting for {what}")
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_scheduled_run_fires_completes_and_publishes_truth(tmp_path):
    started = time.monotonic()
    world = World(WorldConfig(seed=11, days=10, rename_campaigns=False))
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("REVOPS_", "PREFECT_")) or k == "REVOPS_TEST_PG_DSN"}
    base_env.update({
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    })
    server_env = {**base_env,
                  # the scheduler's loop (default 60 s) and its recent-deployments loop (5 s) both
                  # create runs through the code that failed on SQLAlchemy 2.1; a short loop only
                  # makes the test wait less
                  "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"}
    client_env = {**base_env, "PREFECT_API_URL": api}
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    procs: dict[str, subprocess.Popen] = {}

    def spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        procs[name] = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        return procs[name]

    def cli(*args: str, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], env=env or client_env,
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"prefect {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    def get(path: str) -> requests.Response:
        return requests.get(f"{api}{path}", timeout=10)

    def post(path: str, body: dict) -> list | dict:
        resp = requests.post(f"{api}{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def healthy() -> bool:
        try:
            return get("/health").ok
        except requests.ConnectionError:
            return False

    try:
        with sandboxes(world) as sb:
            spawn("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], server_env)
            _wait("the Prefect server", healthy, 240, procs)

            cli("work-pool", "create", "revops-process", "--type", "process")
            # the deployment exactly as deployments/README.md has an operator create it
            cli("deploy", "--prefect-file", "deployments/prefect.yaml", "--all",
                env={**client_env, "REVOPS_HOME": str(REPO)})
            assert get("/deployments/name/backfill/backfill").ok
            deployment = get("/deployments/name/nightly_sync/nightly").json()
            assert deployment["global_concurrency_limit"]["limit"] == 1
            assert [s["schedule"].get("cron") for s in deployment["schedules"]] == ["30 2 * * *"]
            # the nightly cron is hours away: the test's schedule fires in ~20 s (an operator
            # would do the same to see a schedule fire); the scheduler, not the test, makes the run
            anchor = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
            cli("deployment", "schedule", "create", "nightly_sync/nightly", "--interval", "86400",
                "--anchor-date", anchor.isoformat(), "--timezone", "UTC", "--replace", "-y")

            worker_env = {**client_env, **sb.env, "REVOPS_HOME": str(REPO), "REVOPS_WAREHOUSE_URL": url,
                          "REVOPS_DATA_DIR": str(tmp_path / "data"), "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.05",
                          "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
            spawn("worker", [str(BIN / "prefect"), "worker", "start", "--pool", "revops-process"], worker_env)

            runs_filter = {"deployments": {"id": {"any_": [deployment["id"]]}}}

            def scheduled_run() -> dict | None:
                runs = post("/flow_runs/filter", {**runs_filter, "sort": "EXPECTED_START_TIME_ASC"})
                return next((r for r in runs if r["auto_scheduled"]), None)

            try:
                first = _wait("the scheduler to create a run", scheduled_run, 120, procs)
            except AssertionError as exc:
                errors = [line for line in (log_dir / "server.log").read_text().splitlines() if "Error" in line]
                raise AssertionError(f"{exc}; the server logged:\n" + "\n".join(errors[-5:])) from None

            def finished() -> dict | None:
                run = get(f"/flow_runs/{first['id']}").json()
                return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

            run = _wait("the scheduled run to finish", finished, 600, procs, every=3)
            assert run["state"]["type"] == "COMPLETED", run["state"]
            assert run["auto_scheduled"] is True
            assert "secret" not in str(run["parameters"]).lower() and run["parameters"] == {}
            task_names = {t["name"] for t in post("/task_runs/filter",
                                                  {"flow_runs": {"id": {"any_": [run["id"]]}}})}
            # the operator sees each source by name in the UI, not ``extract_source-02e``
            assert {f"extract {s}" for s in ("meta", "hubspot", "ecb")} <= task_names, task_names
    finally:
        for proc in reversed(list(procs.values())):
            _stop(proc)
    wh = Warehouse(url)
    try:
        want = truth.kpi_channel_daily(world)
        assert want
        assert diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, KEYS) == []
        assert wh.fetch_all("select status from ops.runs") == [{"status": "completed"}]
    finally:
        wh.dispose()
    print(f"deployment test: {time.monotonic() - started:.0f} s")
