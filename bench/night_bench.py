"""Night benchmark: what a first night and a quiet night cost, through the real CLI.

    make bench                           # or: .venv/bin/python -m bench.night_bench --days 90 180

For each world (``--days``, seed 42 unless ``--seed``; the default sandbox world otherwise) the
sandbox serves it in a process of its own, and ``revops sync`` runs three times into a fresh
DuckDB warehouse, each in its own process as an operator runs it, the nights the demo replays:

1. **first**: everything, from an empty warehouse, the sandbox's clock the night before the first
   campaign rename (so the old names are seen, as a company syncing every night sees them);
2. **incremental**: the clock at the world's end: what changed since, plus the lookback windows;
3. **quiet**: right after, same clock: nothing new but the ad platforms' lookback windows.

Each night is timed from outside (process start to exit, imports included); after the last two
the published marts are checked against the sandbox's ground truth (``revops.sandbox.truth``). No PREFECT_API_URL: the CLI's cheapest mode (see
deployments/README.md); ``--prefect-api URL`` measures the run against a running Prefect server.

Writes bench/results/night_<UTC timestamp>.json and appends a line to bench/results/night.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import machine_start, stamp_now, write_result
from revops.load.warehouse import Warehouse
from revops.pipeline import summary
from revops.sandbox import truth
from revops.sandbox.world import World, WorldConfig

ROOT = Path(__file__).resolve().parents[1]
REVOPS = [sys.executable, "-m", "revops.cli"]


def serve(days: int, seed: int, env_file: Path) -> None:
    """The sandbox child: serves the world, writes its variables to ``env_file``, then sets the
    servers' clock to each ISO time read on stdin (answering ``ok``) until stdin closes."""
    from revops.sandbox.harness import sandboxes
    from revops.settings import write_env_file

    with sandboxes(World(WorldConfig(seed=seed, days=days))) as sb:
        write_env_file(env_file, sb.env)
        print("ready", flush=True)
        for line in sys.stdin:
            sb.set_clock(datetime.fromisoformat(line.strip()))
            print("ok", flush=True)


class Sandbox:
    """The sandbox in its own process (so the run measured is the client, not the server)."""

    def __init__(self, days: int, seed: int, workdir: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.night_bench", "--serve", str(workdir / ".env"), "--days", str(days),
             "--seed", str(seed)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._answer() != "ready":
            raise RuntimeError("the sandbox process did not start")

    def _answer(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def set_clock(self, at: datetime) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(at.isoformat() + "\n")
        self.proc.stdin.flush()
        if self._answer() != "ok":
            raise RuntimeError("the sandbox process did not set its clock")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sync(workdir: Path, env: dict[str, str]) -> dict:
    """One ``revops sync``: its wall time, and its CPU time (user + system: what a loaded
    machine's wall time hides)."""
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run([*REVOPS, "sync"], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=1800)
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"revops sync exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)}


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
        sandbox = Sandbox(days, seed, workdir)
        clocks = world.nightly_clocks()
        try:
            nights = []
            for name, clock in (("first", clocks[0]), ("incremental", clocks[-1]), ("quiet", clocks[-1])):
                sandbox.set_clock(clock)
                night = {"night": name, "clock": clock.isoformat(), **_sync(workdir, env)}
                if clock == world.now:  # the truth is the world's at its end
                    night["matches_truth"], night["summary"] = _matches_truth(url, world)
                night["dbt_slowest"] = _dbt_slowest(workdir)
                nights.append(night)
                print(f"  days={days} {name} night: {night['seconds']:.1f} s ({night['cpu_seconds']:.1f} s CPU), marts equal truth: "
                      f"{night.get('matches_truth', '(not at the world end)')}", flush=True)
        finally:
            sandbox.stop()
    first, quiet = nights[0], nights[-1]
    return {"days": days, "seed": seed, "first_s": first["seconds"], "incremental_s": nights[1]["seconds"],
            "quiet_s": quiet["seconds"], "first_cpu_s": first["cpu_seconds"], "quiet_cpu_s": quiet["cpu_seconds"],
            "ratio": round(quiet["seconds"] / first["seconds"], 3), "nights": nights}


def _dbt_slowest(workdir: Path, n: int = 5) -> dict:
    """dbt's elapsed time and its slowest nodes in the last build (run_results.json)."""
    results = json.loads((workdir / "data" / "dbt" / "target" / "run_results.json").read_text())
    slowest = sorted(results["results"], key=lambda r: -r["execution_time"])[:n]
    return {"elapsed_s": round(results["elapsed_time"], 2),
            "nodes": {r["unique_id"]: round(r["execution_time"], 2) for r in slowest}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[90, 180])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prefect-api", default=None, help="run the flow against this Prefect API")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the sandbox child
    args = parser.parse_args()
    if args.serve:
        return serve(args.days[0], args.seed, args.serve)
    machine_start()
    stamp = stamp_now()
    print(f"night bench {stamp}: first and quiet `revops sync`, worlds of {args.days} days", flush=True)
    runs = [night_pair(days, args.seed, args.prefect_api) for days in args.days]
    load = os.getloadavg()
    result = {"stamp": stamp, "machine": f"{platform.machine()} {os.cpu_count()} cpu",
              "load_average_1m_at_end": round(load[0], 2), "prefect": args.prefect_api or "none (in process)",
              "worlds": runs}
    line = f"- {stamp} {result['machine']}, load {result['load_average_1m_at_end']}: " + " | ".join(
        f"{r['days']} days: first {r['first_s']:.1f} s, incremental {r['incremental_s']:.1f} s, "
        f"quiet {r['quiet_s']:.1f} s (quiet/first x{r['ratio']:.2f}; CPU {r['first_cpu_s']:.0f} s/"
        f"{r['quiet_cpu_s']:.0f} s), "
        f"truth {'ok' if all(n['matches_truth'] for n in r['nights'] if 'matches_truth' in n) else 'MISMATCH'}"
        for r in runs)
    write_result("night", stamp, result, line)
    print(line)
    if not all(n["matches_truth"] for r in runs for n in r["nights"] if "matches_truth" in n):
        sys.exit("the marts do not equal the ground truth")


if __name__ == "__main__":
    main()
