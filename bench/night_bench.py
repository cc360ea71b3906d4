"""Night benchmark: what a first night and a quiet night cost, through the real CLI.

    make bench                           # or: .venv/bin/python -m bench.night_bench --days 90 180

For each world (``--days``, seed 42 unless ``--seed``): the sandbox serves it in its own process
(``revops sandbox serve --env-file``), then ``revops sync`` runs twice into a fresh DuckDB
warehouse, each in its own process as an operator runs it: the first night loads everything, the
second right after finds nothing new but the ad platforms' lookback windows. Both nights are timed
from outside (process start to exit, imports included) and the published marts are checked
against the sandbox's ground truth after each. No PREFECT_API_URL: the CLI's cheapest mode (see
deployments/README.md); ``--prefect-api URL`` measures the run against a running Prefect server.

Writes bench/results/night_<UTC timestamp>.json and appends a line to bench/results/night.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from revops.load.warehouse import Warehouse
from revops.pipeline import summary
from revops.sandbox import truth
from revops.sandbox.world import World, WorldConfig

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
REVOPS = [sys.executable, "-m", "revops.cli"]


def _serve(days: int, seed: int, workdir: Path) -> subprocess.Popen:
    """The sandbox in its own process; returns once its .env is written."""
    env_file = workdir / ".env"
    proc = subprocess.Popen([*REVOPS, "sandbox", "serve", "--port", "0", "--days", str(days), "--seed",
                             str(seed), "--no-show-tokens", "--env-file", str(env_file)],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not env_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox serve exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("sandbox serve did not write its .env within 300 s")
        time.sleep(0.2)
    time.sleep(0.5)  # the file is written before the servers print; give them a moment
    return proc


def _sync(workdir: Path, env: dict[str, str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([*REVOPS, "sync"], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=1800)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"revops sync exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return {"seconds": round(seconds, 2)}


def _matches_truth(url: str, world: World) -> tuple[bool, dict]:
    with Warehouse(url) as wh:
        got = summary(wh)
    want = truth.summary(world)
    ok = (got["mart_rows"] == want["rows"] and abs(got["spend"] - float(want["spend"])) < 0.005
          and (got["leads"], got["mqls"], got["sqls"]) == (want["leads"], want["mqls"], want["sqls"]))
    raw_rows = sum(n for t, n in got["tables"].items() if t.startswith("raw."))
    return ok, {"mart_rows": got["mart_rows"], "spend": round(got["spend"], 2), "leads": got["leads"],
                "raw_rows": raw_rows}


def night_pair(days: int, seed: int, prefect_api: str | None) -> dict:
    world = World(WorldConfig(seed=seed, days=days))
    with tempfile.TemporaryDirectory(prefix=f"revops-night-{days}-") as tmp:
        workdir = Path(tmp)
        url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVOPS_", "PREFECT_API_URL"))}
        env.update({"REVOPS_WAREHOUSE_URL": url, "REVOPS_DATA_DIR": str(workdir / "data"),
                    "PREFECT_HOME": str(workdir / "prefect"), "PYTHONPATH": str(ROOT)})
        if prefect_api:
            env["PREFECT_API_URL"] = prefect_api
        server = _serve(days, seed, workdir)
        try:
            nights = []
            for name in ("first", "quiet"):
                night = {"night": name, **_sync(workdir, env)}
                night["matches_truth"], night["summary"] = _matches_truth(url, world)
                nights.append(night)
                print(f"  days={days} {name} night: {night['seconds']:.1f} s, marts equal truth: "
                      f"{night['matches_truth']}", flush=True)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    first, quiet = nights
    return {"days": days, "seed": seed, "first_s": first["seconds"], "quiet_s": quiet["seconds"],
            "ratio": round(quiet["seconds"] / first["seconds"], 3), "nights": nights}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[90, 180])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prefect-api", default=None, help="run the flow against this Prefect API")
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    print(f"night bench {stamp}: first and quiet `revops sync`, worlds of {args.days} days", flush=True)
    runs = [night_pair(days, args.seed, args.prefect_api) for days in args.days]
    load = os.getloadavg()
    result = {"stamp": stamp, "machine": f"{platform.machine()} {os.cpu_count()} cpu",
              "load_average_1m_at_end": round(load[0], 2), "prefect": args.prefect_api or "none (in process)",
              "worlds": runs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"night_{stamp}.json").write_text(json.dumps(result, indent=2))
    line = f"- {stamp} {result['machine']}, load {result['load_average_1m_at_end']}: " + " | ".join(
        f"{r['days']} days: first {r['first_s']:.1f} s, quiet {r['quiet_s']:.1f} s (x{r['ratio']:.2f}), "
        f"truth {'ok' if all(n['matches_truth'] for n in r['nights']) else 'MISMATCH'}"
        for r in runs)
    with (RESULTS / "night.md").open("a") as f:
        f.write(line + "\n")
    print(line)
    if not all(n["matches_truth"] for r in runs for n in r["nights"]):
        sys.exit("the marts do not equal the ground truth")


if __name__ == "__main__":
    main()
