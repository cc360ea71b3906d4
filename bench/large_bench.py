"""Large-world benchmark (issue 15): a company-sized world's first ``revops sync``, then an incremental one.

    .venv/bin/python -m bench.large_bench                 # --scale 0.02: a quick look
    .venv/bin/python -m bench.large_bench --scale 1       # the issue's size: minutes, GBs
    .venv/bin/python -m bench.large_bench --scale 0.05 --postgres

Scale 1 is the issue's world: about 1,000,000 CRM contacts and 5,000,000 ad-day rows over two
years (730 days, ending by today: the connectors read up to the wall clock). The world's own
knobs are set for it (:func:`large_config`): contacts per campaign and day, and ads per campaign
(ad groups x ads per group); a smaller scale shrinks both, never the two years. The deals follow
from the world's funnel (about 15 % of contacts reach an opportunity).

The sandbox builds that world and serves it outside the sync's process (so what is measured is the
sync, not the fake APIs in the same interpreter), each platform's server in a process of its own
forked from the one world (``--sandbox-processes``); one ``revops sync`` then runs from an empty
warehouse at an earlier sandbox clock, and a second, incremental one at the world's end, after
``--change`` (1 %) of the contacts and deals changed (:func:`first_clock`; ``--change 0``: the
first night only, at the world's end). Both go into one warehouse (a fresh DuckDB file, or with
``--postgres`` a throwaway database on the test suite's server, ``tests/pg.py``), each in its own
process as an operator runs it. Recorded per night: wall time, CPU time, the run's own step
timings (``revops.runtime - <step> took``), seconds and rows per stream (``ops.run_streams``),
rows per raw table, and the resident memory of the sync process and of the
sandbox process sampled every second (peak and timeline: memory bounded by batch size shows as a
flat line while rows keep coming). ``--truth`` also checks the marts after the last night
against ``revops.sandbox.truth`` (on the world the bench builds beside the sandbox's).

Writes bench/results/large_<UTC timestamp>.json and appends a line to bench/results/large.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench import machine_start, stamp_now, write_result
from revops.sandbox.world import World, WorldConfig
from revops.settings import write_env_file

ROOT = Path(__file__).resolve().parents[1]
REVOPS = [sys.executable, "-m", "revops.cli"]

#: the issue's large world at scale 1
CONTACTS = 1_000_000
AD_DAY_ROWS = 5_000_000
DAYS = 730
#: share of ad-days with delivery (world.py: 6 % of days an ad has no row)
DELIVERY = 0.94
#: contacts filling a form twice (world.py: ``_build_merges``)
DUPLICATES = 0.02
#: HubSpot's limit for a Professional/Enterprise private app, requests per rolling 10 s (what
#: its sandbox reports by default)
HUBSPOT_RATE_LIMIT = 190


def large_config(scale: float, clock: datetime, seed: int = 42) -> WorldConfig:
    """The world of ``scale`` x the issue's size, ending by ``clock``."""
    base = WorldConfig(seed=seed, days=DAYS)
    # campaigns the world draws: Meta per account x accounts, the others at most two per
    # account, plus the offline campaigns (world.py: ``_build_ads``)
    probe = World(replace(base, days=1, contacts_per_campaign_day=0, organic_per_day=0))
    spending = [c for c in probe.campaigns if c.platform != "offline"]
    ads_per_campaign = max(1, round(AD_DAY_ROWS * scale / (len(spending) * DAYS * DELIVERY)))
    groups = max(1, round(ads_per_campaign / 20))
    per_group = max(1, round(ads_per_campaign / groups))
    per_day = CONTACTS * scale / (1 + DUPLICATES) / DAYS - base.organic_per_day
    # no campaign renames: one first sync cannot see a name before it changed (the night bench
    # replays the night before a rename; here the first night is the whole story)
    return WorldConfig.ending_by(clock, seed=seed, days=DAYS, rename_campaigns=False,
                                 contacts_per_campaign_day=max(0.1, per_day / len(probe.campaigns)),
                                 ad_groups_per_campaign=groups, ads_per_group=per_group)


def serve(config_json: str, env_file: Path, hubspot_rate_limit: int, processes: str = "per-server",
          profile: Path | None = None) -> None:
    """The sandbox: builds the world, serves it at its end, writes its variables to
    ``env_file``, prints ``ready <seconds to build> <counts>``, then sets the servers' clock to
    each ISO time read on stdin (``end``: the world's end) and pre-renders every server at it
    (answering ``ok <seconds it took>``: the night's pages are pre-rendered before the sync asks,
    so the sync is what a night measures) until stdin closes, then prints the requests each
    server answered (JSON).

    ``processes``: ``per-server`` forks one process per server once the world is built (the
    world shared copy-on-write), as the platforms' APIs run on machines of their own: one
    interpreter serving all of them is bound by its one GIL, HubSpot's pages waiting behind
    Meta's; ``one`` serves them all from one forked process. With ``profile``, py-spy records
    each of them (forked, py-spy's ``--subprocesses`` does not see them) into ``profile``."""
    from revops.sandbox.harness import uses
    from revops.sandbox.registry import all_sandboxes

    raw = json.loads(config_json)
    raw["start"] = date.fromisoformat(raw["start"])
    raw["platforms"], raw["crms"] = tuple(raw["platforms"]), tuple(raw["crms"])
    started = time.perf_counter()
    world = World(WorldConfig(**raw))
    built = time.perf_counter() - started
    names = [spec.name for spec in all_sandboxes() if uses(world, spec.name)]
    groups = [[name] for name in names] if processes == "per-server" else [names]
    # the world lives as long as the process: out of the collector's full passes (and, frozen
    # before the fork, its pages are not written by them in each child)
    gc.freeze()
    fork = multiprocessing.get_context("fork")
    children = []
    for group in groups:
        mine, theirs = fork.Pipe()
        child = fork.Process(target=_serve_group, args=(world, group, hubspot_rate_limit, theirs, profile),
                             name=f"sandbox-{'+'.join(group)}", daemon=True)
        child.start()
        children.append((child, mine))
    env: dict[str, str] = {}
    for _, pipe in children:
        env.update(pipe.recv())
    write_env_file(env_file, env)
    print(f"ready {built:.1f} {len(world.contacts)} {len(world.deals)} {len(world.ad_days)}", flush=True)
    for line in sys.stdin:
        started = time.perf_counter()
        for _, pipe in children:
            pipe.send(line.strip())
        for _, pipe in children:
            pipe.recv()
        print(f"ok {time.perf_counter() - started:.1f}", flush=True)
    requests: dict[str, int] = {}
    for child, pipe in children:
        pipe.send(None)
        requests.update(pipe.recv())
        child.join(timeout=30)
    print(json.dumps(requests), flush=True)


def _serve_group(world: World, names: list[str], hubspot_rate_limit: int, pipe, profile: Path | None) -> None:
    """The servers of ``names`` in this (forked) process: sends their variables, then for each
    clock received (an ISO time, ``end``: the world's end) sets it and pre-renders its servers
    at it, answering when done; at None sends the requests each answered and stops."""
    from revops.sandbox.harness import sandboxes

    if profile is not None:
        subprocess.Popen(_spy(profile, f"sandbox-{'+'.join(names)}-{os.getpid()}", pid=os.getpid()))
    with sandboxes(world, only=names) as sb:
        if hubspot_rate_limit > 0 and "hubspot" in sb.servers:
            sb.app("hubspot").rate_limit_max = hubspot_rate_limit
        pipe.send(sb.env)
        while (line := pipe.recv()) is not None:
            if line != "again":  # "again": the same clock afresh, what its first night found
                sb.set_clock(world.now if line == "end" else datetime.fromisoformat(line))
            sb.prerender(afresh=line == "again")
            gc.freeze()  # the night's records, as the world: built once, read while serving
            pipe.send("ok")
        pipe.send({name: len(server.app.log) for name, server in sb.servers.items()})


class Sampler(threading.Thread):
    """Resident memory of some processes (and their children) every ``every`` seconds: their
    RSS, or for processes watched as ``shared`` (the sandbox's servers, forked from one world)
    their proportional set size, so the pages they share count once in the sum, every
    ``shared_every`` seconds: the kernel walks every page of a process to sum its PSS, and for the
    full-size sandbox's eight servers (11 GB) each second that cost this process a quarter of a
    core (2:50 min of CPU in an 11-minute run), taken from the sync it measures."""

    def __init__(self, every: float = 1.0, shared_every: float = 10.0):
        super().__init__(daemon=True)
        self.every, self.shared_every = every, shared_every
        self._shared_at = -shared_every
        self.pids: dict[str, int] = {}
        self.samples: dict[str, list[tuple[float, int]]] = {}
        self.shared: set[str] = set()
        #: CPU seconds (user + system) of each process at its last sample
        self.cpu: dict[str, float] = {}
        self._done = threading.Event()
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC)

    def watch(self, name: str, pid: int, shared: bool = False) -> None:
        self.pids[name] = pid
        self.samples.setdefault(name, [])
        if shared:
            self.shared.add(name)

    def run(self) -> None:
        import psutil

        while not self._done.wait(self.every):
            now = time.perf_counter()
            shared_due = now - self._shared_at >= self.shared_every
            if shared_due:
                self._shared_at = now
            for name, pid in list(self.pids.items()):
                try:
                    proc = psutil.Process(pid)
                    procs = [proc, *proc.children(recursive=True)]
                    self.cpu[name] = round(sum(t.user + t.system for t in (p.cpu_times() for p in procs)), 1)
                    if name in self.shared and not shared_due:
                        continue
                    rss = sum(_pss(p.pid) if name in self.shared else p.memory_info().rss for p in procs)
                except (psutil.Error, OSError):  # (gone between the listing and the read)
                    continue
                self.samples[name].append((round(time.perf_counter() - self.started, 1), rss))

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak_mib(self, name: str) -> float:
        return round(max((rss for _, rss in self.samples.get(name, [])), default=0) / 2**20, 1)

    def timeline_mib(self, name: str, points: int = 40) -> list[tuple[float, float]]:
        s = self.samples.get(name, [])
        step = max(1, len(s) // points)
        return [(t, round(rss / 2**20, 1)) for t, rss in s[::step]]


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes (Linux ``smaps_rollup``): each page it shares
    with others counted as its share."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))


def _steps(log: str) -> dict[str, float]:
    """The run's own step timings: ``revops.runtime - extract_concurrently took 12.3 s``."""
    return {m[1]: float(m[2]) for m in re.finditer(r"revops\.runtime - (\w+) took ([\d.]+) s", log)}


def _streams(url: str) -> tuple[dict, dict]:
    """Seconds and rows per stream of the last run (``ops.run_streams``), and the summary."""
    from revops.load.warehouse import Warehouse
    from revops.pipeline import summary

    with Warehouse(url) as wh:
        last = wh.scalar("select run_id from ops.runs order by started_at desc limit 1")
        streams = {f"{r['source']}.{r['stream']}": {"rows": int(r["rows_loaded"]),
                                                     "changed": int(r["rows_changed"] or 0),
                                                     "seconds": round(float(r["seconds"] or 0), 1),
                                                     "validating_s": round(float(r["validation_seconds"] or 0), 2),
                                                     "batches": int(r["batches"])}
                   for r in wh.fetch_all("select * from ops.run_streams where run_id = :run "
                                         "order by seconds desc", run=last)}
        got = summary(wh)
    return streams, got


def _validation_share(streams: dict) -> float | None:
    spent = sum(s["seconds"] for s in streams.values())
    return round(sum(s["validating_s"] for s in streams.values()) / spent, 3) if spent else None


def first_clock(world: World, share: float) -> tuple[datetime, dict]:
    """The first night's clock for an incremental second night at ``world.now``: the latest
    whole 6 hours before it after which at least ``share`` of the contacts and of the deals (of
    those the CRM shows at ``world.now``) are new or changed by then (``World.changed_between``),
    and those shares."""
    contacts, deals = len(world.contacts_as_of(world.now)), len(world.deals_as_of(world.now))
    hours = 0
    while True:
        hours += 6
        since = world.now - timedelta(hours=hours)
        changed_contacts, changed_deals = world.changed_between(since, world.now)
        if len(changed_contacts) >= share * contacts and len(changed_deals) >= share * deals:
            return since, {"hours_before_end": hours,
                           "contacts": len(changed_contacts), "contacts_share": round(len(changed_contacts) / contacts, 4),
                           "deals": len(changed_deals), "deals_share": round(len(changed_deals) / deals, 4)}


def _dbt_slowest(workdir: Path, n: int = 8) -> dict:
    """dbt's elapsed time and its slowest nodes in the run's build (run_results.json)."""
    path = workdir / "data" / "dbt" / "target" / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())
    slowest = sorted(results["results"], key=lambda r: -r["execution_time"])[:n]
    return {"elapsed_s": round(results["elapsed_time"], 1),
            "nodes": {r["unique_id"]: round(r["execution_time"], 1) for r in slowest}}


def _truth(got: dict, world: World) -> dict:
    """The channel mart's totals against the ground truth (as the demo and night bench check)."""
    from revops.sandbox import truth

    want = truth.summary(world)
    pairs = {"rows": (got["mart_rows"], want["rows"]), "spend": (round(got["spend"], 2), float(want["spend"])),
             "leads": (got["leads"], want["leads"]), "mqls": (got["mqls"], want["mqls"]),
             "sqls": (got["sqls"], want["sqls"])}
    ok = all(abs(a - b) < 0.005 if k == "spend" else a == b for k, (a, b) in pairs.items())
    return {"ok": ok, "warehouse_vs_truth": pairs}


def _spy(profile: Path | None, name: str, pid: int | None = None) -> list[str]:
    """``py-spy record`` in front of a command when profiling (collapsed stacks to ``profile``),
    or with ``pid`` the whole command that records that running process."""
    if profile is None:
        return []
    spy = Path(sys.executable).with_name("py-spy")
    return [str(spy), "record", "--format", "raw", "--rate", "50", "--nonblocking",
            "-o", str(profile / f"{name}.txt"), *(["--pid", str(pid)] if pid else ["--"])]


class Sandbox:
    """The sandbox child process (``serve``): started, told a clock, stopped."""

    def __init__(self, cmd: list[str]):
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        answer: list[str] = []
        for line in self._lines():  # (py-spy, when profiling, prints its own lines first)
            answer = line.split()
            if answer and answer[0] == "ready":
                break
        if not answer or answer[0] != "ready":
            raise RuntimeError("the sandbox process did not start")
        self.build_s = float(answer[1])
        self.counts = {"contacts": int(answer[2]), "deals": int(answer[3]), "ad_days": int(answer[4])}

    def _lines(self):
        assert self.proc.stdout is not None
        return iter(self.proc.stdout.readline, "")

    def set_clock(self, at: datetime | None, again: bool = False) -> float:
        """The sandbox's clock to ``at`` (None: the world's end), its records rendered at it;
        the seconds the rendering took. ``again``: the clock stays, and what was built at it is
        dropped and rendered again (each server's :meth:`~revops.sandbox.server.SandboxApp.forget`)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(("again" if again else "end" if at is None else at.isoformat()) + "\n")
        self.proc.stdin.flush()
        answer = next((line.split() for line in self._lines() if line.startswith("ok")), None)
        if not answer:
            raise RuntimeError("the sandbox process did not set its clock")
        return float(answer[1])

    def stop(self) -> dict[str, int]:
        """Stops it; the requests each server answered."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        tail = ""
        try:
            tail = self.proc.stdout.read()
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        lines = [line for line in tail.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def _night(name: str, workdir: Path, env: dict[str, str], sampler: Sampler, profile: Path | None,
           engine: str, logs: Path | None = None) -> dict:
    """One ``revops sync`` in its own process: wall, CPU, peak RSS, its steps and dbt's slowest
    nodes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    sync = subprocess.Popen([*_spy(profile, f"{name}-{engine}"), *REVOPS, "sync"], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler.watch(name, sync.pid)
    out, _ = sync.communicate(timeout=4 * 3600)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (workdir / f"{name}.log").write_text(out)
    if logs is not None:  # the log beside the memory samples: what the process did at its peak
        (logs / f"{name}-{engine}.log").write_text(out)
    if sync.returncode != 0:
        raise RuntimeError(f"revops sync ({name} night) exited {sync.returncode}:\n{out[-3000:]}")
    return {"sync_s": round(seconds, 1),
            "sync_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            # sampled every second (the sync and its children); getrusage's figure is the
            # largest child waited for so far, so it is the sync's own only for the first night
            "sync_peak_rss_mib": sampler.peak_mib(name),
            "children_max_rss_so_far_mib": round(after.ru_maxrss / 1024, 1),
            "steps_s": _steps(out), "dbt": _dbt_slowest(workdir)}


@contextmanager
def _workdir(engine: str, keep: Path | None) -> Iterator[str]:
    """A temporary folder for the run's warehouse, data and logs; with ``keep``, ``keep/<engine>``
    (emptied first) that stays after the run, to query the warehouse or rebuild its models."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=f"revops-large-{engine}-") as tmp:
            yield tmp
        return
    folder = keep / engine
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield str(folder)


def run(scale: float, engine: str, seed: int, check_truth: bool, hubspot_rate_limit: int,
        profile: Path | None = None, change_share: float = 0.01, extra_env: dict[str, str] | None = None,
        logs: Path | None = None, keep: Path | None = None, sandbox_processes: str = "per-server",
        memory_probe: bool = False, rounds: int = 1) -> dict:
    """A first night from an empty warehouse; with ``change_share`` a second, incremental night
    after that share of the contacts and deals changed (the first night's clock is moved back
    until they did: :func:`first_clock`); the truth checked after the last night. ``rounds``
    (DuckDB): the incremental night that many times, each from the first night's warehouse and
    a freshly rendered sandbox; the median round stands for it (every round's wall time kept)."""
    clock = datetime.now(UTC)
    config = large_config(scale, clock, seed)
    world = World(config) if check_truth or change_share else None
    changed: dict = {}
    if change_share:
        assert world is not None
        first_at, changed = first_clock(world, change_share)
        print(f"  scale {scale}: the first night {changed['hours_before_end']} h before the world's end: "
              f"{changed['contacts']:,} contacts ({changed['contacts_share']:.2%}) and {changed['deals']:,} "
              f"deals ({changed['deals_share']:.2%}) new or changed by the second", flush=True)
    sampler = Sampler()
    sampler.start()
    nights: dict[str, dict] = {}
    with _workdir(engine, keep) as tmp:
        workdir = Path(tmp)
        pg = None
        if engine == "postgres":
            sys.path.insert(0, str(ROOT))
            from tests import pg  # a throwaway database on the test suite's server

            pg.ensure_server()
            url = pg.create_database()
        else:
            url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVOPS_", "PREFECT_API_URL"))}
        env.update({"REVOPS_WAREHOUSE_URL": url, "REVOPS_DATA_DIR": str(workdir / "data"),
                    "PREFECT_HOME": str(workdir / "prefect"), "PYTHONPATH": str(ROOT), **(extra_env or {})})
        if memory_probe and logs:  # bench/memory_probe: what the sync's memory is made of, in DIR
            env.update({"PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "memory_probe"), env["PYTHONPATH"]]),
                        "BENCH_MEMORY_PROBE": str(logs / f"memory-{engine}.jsonl")})
        raw_config = {**asdict(config), "start": config.start.isoformat()}
        started = time.perf_counter()
        sandbox = Sandbox([*_spy(profile, f"sandbox-{engine}"), sys.executable, "-m", "bench.large_bench",
                           "--serve", str(workdir / ".env"), "--config", json.dumps(raw_config),
                           "--hubspot-rate-limit", str(hubspot_rate_limit), "--sandbox-processes", sandbox_processes,
                           *(["--py-spy", str(profile)] if profile else [])])
        sampler.watch("sandbox", sandbox.proc.pid, shared=True)
        requests: dict[str, int] = {}
        try:
            ready_s = time.perf_counter() - started
            print(f"  scale {scale}: world built in {sandbox.build_s:.1f} s ({sandbox.counts}), sandbox ready in "
                  f"{ready_s:.1f} s; syncing into {engine}...", flush=True)
            rendered_s = sandbox.set_clock(first_at if change_share else None)
            nights["first"] = _night("sync", workdir, env, sampler, profile, engine, logs)
            nights["first"]["sandbox_prerender_s"] = rendered_s
            nights["first"]["streams"], got = _streams(url)
            nights["first"]["sandbox_cpu_s"] = sampler.cpu.get("sandbox")
            if change_share:
                assert world is not None
                # more than one round (DuckDB): the first night's warehouse is copied aside and
                # each round starts from it, the sandbox's clock rendered afresh
                kept = workdir / "after-first-night" if rounds > 1 and engine == "duckdb" else None
                if kept is not None:
                    kept.mkdir()
                    shutil.copy2(workdir / "warehouse.duckdb", kept / "warehouse.duckdb")
                    shutil.copytree(workdir / "data", kept / "data")
                ran = []
                for i in range(rounds if kept is not None else 1):
                    if i:
                        shutil.copy2(kept / "warehouse.duckdb", workdir / "warehouse.duckdb")
                        shutil.rmtree(workdir / "data")
                        shutil.copytree(kept / "data", workdir / "data")
                    rendered_s = sandbox.set_clock(world.now, again=i > 0)
                    night = _night("incremental" if not i else f"incremental-{i + 1}", workdir, env, sampler,
                                   profile if not i else None, engine, logs)
                    night["sandbox_prerender_s"] = rendered_s
                    night["streams"], got = _streams(url)
                    if check_truth:  # every round's warehouse, not only the last one's
                        night["matches_truth"] = _truth(got, world)["ok"]
                    ran.append(night)
                    print(f"  first night {nights['first']['sync_s']} s ({nights['first']['sync_cpu_s']} s CPU), "
                          f"incremental {night['sync_s']} s ({night['sync_cpu_s']} s CPU)", flush=True)
                # the median round stands for the night (the lower middle of an even count)
                nights["incremental"] = sorted(ran, key=lambda n: n["sync_s"])[(len(ran) - 1) // 2]
                nights["incremental"]["rounds_s"] = [n["sync_s"] for n in ran]
                nights["incremental"]["rounds_match_truth"] = [n.get("matches_truth") for n in ran]
                if kept is not None:
                    shutil.rmtree(kept)
        finally:
            requests = sandbox.stop()
            sampler.stop()
            if logs is not None:  # every sample, seconds after the sampler's UTC start
                (logs / f"rss-{engine}.json").write_text(json.dumps(
                    {"started_at": sampler.started_at.isoformat(), "samples": sampler.samples}))
            if pg is not None and keep is None:
                pg.drop_database(url)
            elif pg is not None:  # kept with the rest, for EXPLAIN and a look around; drop it by hand
                print(f"  kept the PostgreSQL warehouse: {url}", flush=True)
    first = nights["first"]
    result = {
        "scale": scale, "engine": engine, "seed": seed, "env": extra_env or {}, "memory_probe": memory_probe,
        "sandbox_processes": sandbox_processes,
        "hubspot_rate_limit_per_10s": hubspot_rate_limit or HUBSPOT_RATE_LIMIT,
        # both nights' requests
        "requests": requests,
        # what HubSpot's own limit alone would cost these requests (its sandbox reports the
        # limit in X-HubSpot-RateLimit-* and the connector waits when it is nearly used up)
        "hubspot_floor_at_real_limit_s": round(requests.get("hubspot", 0) / HUBSPOT_RATE_LIMIT * 10, 1),
        "world": {"days": config.days, "start": config.start.isoformat(),
                  "contacts_per_campaign_day": round(config.contacts_per_campaign_day, 3),
                  "ad_groups_per_campaign": config.ad_groups_per_campaign,
                  "ads_per_group": config.ads_per_group, **sandbox.counts, "build_s": sandbox.build_s},
        "sandbox_ready_s": round(ready_s, 1),
        # the servers pre-rendered at the first night's clock before the sync started
        # (``SandboxApp.prerender``: HubSpot's records, the ad platforms' rows)
        "sandbox_prerender_s": first["sandbox_prerender_s"],
        # the first night's (the figures before ``nights`` existed)
        "sync_s": first["sync_s"], "sync_cpu_s": first["sync_cpu_s"],
        "sync_peak_rss_mib": first["sync_peak_rss_mib"],
        "children_max_rss_so_far_mib": first["children_max_rss_so_far_mib"],
        # proportional: the servers' processes share the world's pages (``Sampler``)
        "sandbox_peak_rss_mib": sampler.peak_mib("sandbox"),
        # the sandbox's CPU while it built the world and served the first night
        "sandbox_cpu_s": first["sandbox_cpu_s"],
        "sandbox_cpu_total_s": sampler.cpu.get("sandbox"),
        "steps_s": first["steps_s"], "dbt": first["dbt"], "streams": first["streams"],
        # raw validation's share of extract+load: the seconds validating over the seconds the
        # streams took (each stream's extract, validate and load; the sources run side by side)
        "validation_share": _validation_share(first["streams"]),
        "raw_rows": sum(n for t, n in got["tables"].items() if t.startswith("raw.")),
        "tables": {t: n for t, n in got["tables"].items() if t.startswith(("raw.", "marts."))},
        "rss_timeline_mib": {name: sampler.timeline_mib(name) for name in ("sync", "incremental", "sandbox")
                             if sampler.samples.get(name)},
    }
    if change_share:
        second = nights["incremental"]
        result["incremental"] = {**second, "changed": changed,
                                 "ratio_wall": round(second["sync_s"] / first["sync_s"], 3),
                                 "ratio_cpu": round(second["sync_cpu_s"] / first["sync_cpu_s"], 3)}
    if check_truth:
        assert world is not None
        result["truth"] = _truth(got, world)
        result["matches_truth"] = result["truth"]["ok"]
        print(f"  marts against the ground truth: {result['truth']}", flush=True)
    return result


def _incremental_line(night: dict) -> str:
    """The incremental night's part of a run's results line."""
    rounds = night.get("rounds_s", [])
    median_of = (f"(median of {len(rounds)} rounds: {', '.join(f'{x:.0f}' for x in rounds)} s) "
                 if len(rounds) > 1 else "")
    return (f"; incremental night ({night['changed']['contacts_share']:.1%} of contacts, "
            f"{night['changed']['deals_share']:.1%} of deals changed) {night['sync_s']:.0f} s {median_of}"
            f"({night['sync_cpu_s']:.0f} s CPU, peak RSS {night['sync_peak_rss_mib']:.0f} MiB) "
            f"= {night['ratio_wall']:.0%} of the first night's wall, {night['ratio_cpu']:.0%} of its CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02,
                        help="share of the issue's world (1 = 1M contacts, 5M ad-day rows)")
    parser.add_argument("--postgres", action="store_true", help="also sync into PostgreSQL")
    parser.add_argument("--no-duckdb", action="store_true", help="PostgreSQL only")
    parser.add_argument("--truth", action="store_true", help="check the marts against the ground truth")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--change", type=float, default=0.01,
                        help="a second, incremental night after this share of the contacts and deals "
                             "changed (0: the first night only)")
    parser.add_argument("--incremental-rounds", type=int, default=1, metavar="N",
                        help="DuckDB: the incremental night N times, each from a copy of the first "
                             "night's warehouse, the sandbox rendered afresh; the median round is "
                             "reported (one night's wall time varied by +-4 s at full size)")
    parser.add_argument("--hubspot-rate-limit", type=int, default=1_000_000,
                        help="requests per 10 s the HubSpot sandbox reports (0: HubSpot's real 190; "
                             "the default lifts it, so the pipeline is measured, and the run "
                             "reports what the real limit alone would cost)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="profile the sync and the sandbox with py-spy (collapsed stacks in DIR)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the syncs (e.g. REVOPS_DUCKDB_MEMORY_LIMIT=512MB, "
                             "MALLOC_ARENA_MAX=2); repeatable")
    parser.add_argument("--memory-probe", action="store_true",
                        help="sample inside each sync what its memory is made of (glibc, pyarrow, DuckDB's "
                             "duckdb_memory()) every 3 s into DIR/memory-<engine>.jsonl (needs --logs; "
                             "bench/memory_probe)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each engine's warehouse, data and sync log in DIR/<engine> (emptied first); "
                             "PostgreSQL's throwaway database is kept too (its URL is printed)")
    parser.add_argument("--logs", type=Path, metavar="DIR",
                        help="keep each night's log and every memory sample in DIR")
    parser.add_argument("--sandbox-processes", choices=("per-server", "one"), default="per-server",
                        help="the sandbox's servers each in a process of its own (forked once the world "
                             "is built, as each platform's API runs on its own machines), or all in one")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the sandbox child
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe and not args.logs:
        parser.error("--memory-probe writes into the --logs directory")
    if args.serve:
        return serve(args.config, args.serve, args.hubspot_rate_limit, args.sandbox_processes, args.py_spy)
    machine_start()
    stamp = stamp_now()
    engines = ([] if args.no_duckdb else ["duckdb"]) + (["postgres"] if args.postgres else [])
    print(f"large bench {stamp}: scale {args.scale} into {', '.join(engines)}", flush=True)
    load_before = os.getloadavg()
    for folder in (args.py_spy, args.logs):
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
    runs = [run(args.scale, engine, args.seed, args.truth, args.hubspot_rate_limit, args.py_spy, args.change,
                dict(kv.split("=", 1) for kv in args.env), args.logs, args.keep, args.sandbox_processes,
                args.memory_probe, args.incremental_rounds)
            for engine in engines]
    load = os.getloadavg()
    result = {"stamp": stamp, "machine": f"{platform.machine()} {os.cpu_count()} cpu",
              "load_average_1m_before": round(load_before[0], 2),
              "load_average_1m_at_end": round(load[0], 2), "runs": runs}
    line = f"- {stamp} {result['machine']}, load {load_before[0]:.1f}-{load[0]:.1f}: " + " | ".join(
        f"scale {r['scale']} {r['engine']}{''.join(f' {k}={v}' for k, v in r['env'].items())}"
        f"{' (memory probe)' if r.get('memory_probe') else ''}: {r['world']['contacts']:,} contacts, {r['world']['deals']:,} deals, "
        f"{r['world']['ad_days']:,} ad-days ({r['raw_rows']:,} raw rows): sync {r['sync_s']:.0f} s "
        f"({r['sync_cpu_s']:.0f} s CPU; validating {r['validation_share'] or 0:.1%} of the streams' time), "
        f"peak RSS {r['sync_peak_rss_mib']:.0f} MiB, sandbox ({r['sandbox_processes']}) ready "
        f"{r['sandbox_ready_s']:.0f} s / {r['sandbox_peak_rss_mib']:.0f} MiB / {r['sandbox_cpu_s']} s CPU "
        f"(the night's pages pre-rendered in {r['sandbox_prerender_s']:.0f} s before the sync), "
        f"HubSpot {r['requests'].get('hubspot', 0):,} requests (>= {r['hubspot_floor_at_real_limit_s']:.0f} s "
        f"at its real limit; sandbox reported {r['hubspot_rate_limit_per_10s']:,}/10 s)"
        + (_incremental_line(r["incremental"]) if "incremental" in r else "")
        + (f", truth {'ok' if r['matches_truth'] else 'MISMATCH'}" if "matches_truth" in r else "")
        for r in runs)
    write_result("large", stamp, result, line)
    print(line)
    print(json.dumps({r["engine"]: {"steps": r["steps_s"], "streams": r["streams"],
                                    "incremental": r.get("incremental")} for r in runs}, indent=1))
    if any(r.get("matches_truth") is False for r in runs):
        sys.exit("the marts do not equal the ground truth")


if __name__ == "__main__":
    main()
