"""Extraction benchmark: the project's extract+load against dlt's ``rest_api`` source, on the same
Meta insights and HubSpot contacts requests, into the same DuckDB warehouse, in the same run.

    make bench        # or: .venv/bin/python -m bench.extract_bench --rounds 3

1. A sandbox world is read once by the project's connectors while every HTTP exchange is
   recorded (the pages, with the sandbox's address in next-page links replaced by a marker).
2. :mod:`bench.fixture_server` serves those pages from memory in a process of its own, so the
   client is what is measured, not the sandbox rendering pages.
3. Rounds alternate: the project with validation on (``pipeline.sync_source``: GX suite per
   batch, quarantine, merge + sync state per batch), the project with validation off (the same
   minus the GX call), and dlt (``rest_api_source`` with the same requests: a JSON-link paginator
   for Meta, a keyset paginator for HubSpot's search as the connector pages it; merge on the
   same primary keys, nested fields kept as JSON like the project's raw columns; parquet load
   files), once with its resources extracted in parallel (``dlt``) and once serially
   (``dlt_serial``): the faster median is the yardstick. Imports (GX's 5-10 s, dlt's) are paid
   before the clock starts, for both. Each run also reports this process's CPU seconds (the
   fixture runs in its own), the fairer figure on a machine shared with other jobs.

Writes bench/results/extract_<UTC timestamp>.json and appends a line to bench/results/extract.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bench import machine_start, stamp_now, write_result
from bench.fixture_server import BASE, request_key
from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.sources.http import ApiClient
from revops.sources.hubspot.streams import HISTORY_BATCH
from revops.sources.registry import get_spec

#: the streams compared: (source, stream) -> primary key
STREAMS = {("meta", "ads_insights"): ["ad_id", "date_start"], ("hubspot", "contacts"): ["id"]}


def world_config(scale: float) -> WorldConfig:
    """A year of one company on Meta with HubSpot as its CRM; ``scale`` 1 is about 35k insight
    rows and 20k contacts."""
    return WorldConfig.ending_by(
        datetime.now(UTC), days=365, platforms=("meta",), crms=("hubspot",),
        campaigns_per_account=max(1, round(4 * scale)), ads_per_group=4,
        contacts_per_campaign_day=4.0, organic_per_day=3.0 * scale)


# ------------------------------------------------------------------ 1. record
def record(world: World) -> tuple[dict, dict[str, str], list[tuple[str, dict]], list[tuple[str, dict]]]:
    """Read the streams once through the project's connectors against the sandbox, keeping
    every answer. Returns the pages, the sandbox environment, and where each paged read starts
    (Meta: one insights window; HubSpot: one search window) for dlt's config."""
    exchanges = []
    transport = ApiClient.transport  # every request a connector sends goes through it

    def recording(self, method, url, **kwargs):
        response = transport(self, method, url, **kwargs)
        exchanges.append((response.request, response))  # the request as sent (URL with params)
        return response

    with sandboxes(world, as_of=world.now) as sb:
        bases = [sb.servers[name].url for name in ("meta", "hubspot")]
        settings = sb.settings(http_max_backoff_seconds=0.05)
        ApiClient.transport = recording
        try:
            for (source_name, stream_name) in STREAMS:
                source = get_spec(source_name).build(settings)
                stream = next(s for s in source.streams if s.name == stream_name)
                for _ in source.read(stream, None):
                    pass
        finally:
            ApiClient.transport = transport
        env = dict(sb.env)
    pages, meta_starts, hubspot_starts = {}, [], []
    for prepared, response in exchanges:
        if response.status_code != 200:  # a throttled try: its retry is recorded
            continue
        body = response.content
        for base in bases:
            body = body.replace(base.encode(), BASE)
        key = request_key(prepared.method, prepared.url, prepared.body)
        pages[key] = (200, response.headers.get("Content-Type", "application/json"), body)
        path, query = urlsplit(prepared.url).path, dict(parse_qsl(urlsplit(prepared.url).query))
        if path.endswith("/insights") and "time_range" in query:
            meta_starts.append((path, {k: v for k, v in query.items() if k != "access_token"}))
        if path.endswith("/objects/contacts") and query.get("archived") == "true" and "after" not in query:
            hubspot_starts.append((path, {k: v for k, v in query.items()}))  # the recycle bin
        if path.endswith("/contacts/search"):
            search = json.loads(prepared.body)
            keyset = any(f["propertyName"] == "hs_object_id"
                         for g in search.get("filterGroups", []) for f in g["filters"])
            if search.get("limit", 0) > 1 and not keyset:
                hubspot_starts.append((path, search))
    return pages, env, meta_starts, hubspot_starts


@contextmanager
def fixture_server(pages: dict):
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as fh:
        pickle.dump(pages, fh)
    proc = subprocess.Popen([sys.executable, "-m", "bench.fixture_server", fh.name],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        os.unlink(fh.name)


# ------------------------------------------------------------------ 2. the project
@contextmanager
def validation(on: bool):
    """Validation off: the same sync without the GX call (every row good, no suite result)."""
    if on:
        yield
        return
    real = pipeline._validate
    pipeline._validate = lambda split_rows, stream, records: (records, [], None)
    try:
        yield
    finally:
        pipeline._validate = real


@contextmanager
def timed_validation(spent: list[float]):
    """Adds the seconds each batch's validation takes (the GX call, the split) to ``spent``."""
    real = pipeline._validate

    def timed(split_rows, stream, records):
        t = time.perf_counter()
        try:
            return real(split_rows, stream, records)
        finally:
            spent.append(time.perf_counter() - t)

    pipeline._validate = timed
    try:
        yield
    finally:
        pipeline._validate = real


def run_project(env: dict[str, str], url: str, validate: bool) -> tuple[int, float, float]:
    """Rows loaded, seconds, and seconds of them spent validating. The two sources run one after
    the other (the nightly run gives each its own thread: on this 2-core machine that measured
    no faster for these two, within the noise)."""
    settings = settings_from_env(env, warehouse_url=url)
    wh, run_id = pipeline.prepare(settings, "bench")
    rows, spent = 0, []
    with validation(validate), timed_validation(spent):
        started = time.perf_counter()
        for source_name, stream_name in STREAMS:
            result = pipeline.sync_source(settings, wh, run_id, source_name, full_refresh=True,
                                          streams=[stream_name])
            rows += sum(s.rows_loaded for s in result.streams)
        seconds = time.perf_counter() - started
    wh.finish_run(run_id, "completed")
    wh.dispose()
    return rows, seconds, sum(spent)


# ------------------------------------------------------------------ 3. dlt
#: the contact property whose history the HubSpot connector reads (its ``contacts`` search object)
HISTORY_PROPERTY = "hs_lead_status"
#: dlt's fastest load path into DuckDB (its default, INSERT VALUES files, is several times slower)
DLT_FILE_FORMAT = "parquet"

def dlt_sources(base: str, meta_starts, hubspot_starts, parallelized: bool):
    """``parallelized``: dlt extracts the resources in its thread pool; the bench runs dlt both
    ways (modes ``dlt`` and ``dlt_serial``) and compares with the faster."""
    import dlt
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
    from dlt.sources.helpers.rest_client.paginators import BasePaginator
    from dlt.sources.rest_api import rest_api_source

    class KeysetPaginator(BasePaginator):
        """HubSpot search paged as the connector pages it: the same query again for ids above
        the last one seen, while HubSpot says there is a next page."""

        def __init__(self, filters: list[dict]):
            super().__init__()
            self.filters, self.last_id = filters, None

        def update_state(self, response, data=None) -> None:
            body = response.json()
            results = body.get("results") or []
            more = bool(((body.get("paging") or {}).get("next") or {}).get("after"))
            self._has_next_page = more and bool(results)
            if results:
                self.last_id = results[-1]["id"]

        def update_request(self, request) -> None:
            keyset = {"propertyName": "hs_object_id", "operator": "GT", "value": str(self.last_id)}
            request.json = {**request.json, "filterGroups": [{"filters": [*self.filters, keyset]}]}

    meta = rest_api_source({
        "client": {"base_url": base + "/", "auth": {"type": "bearer", "token": "bench"}},
        "resource_defaults": {"write_disposition": "merge", "primary_key": STREAMS[("meta", "ads_insights")],
                              "table_name": "meta__ads_insights"},
        "resources": [
            {"name": f"meta_window_{i}", "endpoint": {
                # dlt reads {...} in params as a placeholder: Meta's time_range is JSON, escaped
                "path": path.lstrip("/"), "data_selector": "data",
                "params": {k: v.replace("{", "{{").replace("}", "}}") for k, v in params.items()},
                "paginator": {"type": "json_link", "next_url_path": "paging.next"}}}
            for i, (path, params) in enumerate(meta_starts)
        ],
    }, name="meta", max_table_nesting=0, parallelized=parallelized)
    hubspot = rest_api_source({
        "client": {"base_url": base + "/", "auth": {"type": "bearer", "token": "bench"}},
        "resource_defaults": {"write_disposition": "merge", "primary_key": STREAMS[("hubspot", "contacts")],
                              "table_name": "hubspot__contacts"},
        "resources": [
            {"name": f"hubspot_window_{i}", "endpoint": {
                "path": path.lstrip("/"), "method": "POST", "json": body, "data_selector": "results",
                "paginator": KeysetPaginator([f for g in body.get("filterGroups", []) for f in g["filters"]])}}
            if path.endswith("/search") else
            # the recycle bin (deleted contacts), paged by HubSpot's ``after`` cursor
            {"name": f"hubspot_archived_{i}", "endpoint": {
                "path": path.lstrip("/"), "params": body, "data_selector": "results",
                "paginator": {"type": "cursor", "cursor_path": "paging.next.after", "cursor_param": "after"}}}
            for i, (path, body) in enumerate(hubspot_starts)
        ],
    }, name="hubspot", max_table_nesting=0, parallelized=parallelized)
    # the connector's requests for the contacts' lead-status history, made by dlt too: each
    # search page's contacts are read back 50 ids a request (``HISTORY_BATCH``) with
    # ``propertiesWithHistory``, the same bodies, and the latest version's time becomes the
    # page's ``hs_lead_status_set_at`` column, as in the connector's rows
    client = RESTClient(base_url=base + "/", auth=BearerTokenAuth("bench"))

    @dlt.transformer(write_disposition="merge", primary_key=STREAMS[("hubspot", "contacts")],
                     table_name="hubspot__contacts", parallelized=parallelized)
    def with_history(page):
        ids = [str(r["id"]) for r in page]
        set_at: dict[str, str | None] = {}
        for start in range(0, len(ids), HISTORY_BATCH):
            response = client.post("crm/v3/objects/contacts/batch/read", json={
                "inputs": [{"id": i} for i in ids[start:start + HISTORY_BATCH]],
                "properties": [HISTORY_PROPERTY], "propertiesWithHistory": [HISTORY_PROPERTY]})
            response.raise_for_status()  # a request the connector did not make is a 404
            body = response.json()
            for result in body.get("results", []):
                versions = (result.get("propertiesWithHistory") or {}).get(HISTORY_PROPERTY) or []
                set_at[str(result["id"])] = max((v["timestamp"] for v in versions), default=None)
        for r in page:
            r[f"{HISTORY_PROPERTY}_set_at"] = set_at.get(str(r["id"]))
        yield page

    contacts = [res | with_history.with_name(f"{name}_history") if name.startswith("hubspot_window")
                else res for name, res in hubspot.resources.items()]
    return [meta, *contacts]


def run_dlt(base: str, duckdb_path: str, workdir: str, meta_starts, hubspot_starts,
            parallelized: bool = True) -> tuple[int, float]:
    import dlt

    pipe = dlt.pipeline(pipeline_name=f"bench_{uuid.uuid4().hex[:8]}", pipelines_dir=workdir,
                        destination=dlt.destinations.duckdb(duckdb_path), dataset_name="dlt_bench")
    sources = dlt_sources(base, meta_starts, hubspot_starts, parallelized)
    started = time.perf_counter()
    pipe.run(sources, loader_file_format=DLT_FILE_FORMAT)
    seconds = time.perf_counter() - started
    counts = pipe.last_trace.last_normalize_info.row_counts
    return counts.get("meta__ads_insights", 0) + counts.get("hubspot__contacts", 0), seconds


# ------------------------------------------------------------------ the run
MODES = ("validation_on", "validation_off", "dlt", "dlt_serial")


def run(scale: float, rounds: int, modes: tuple[str, ...] = MODES) -> dict:
    import dlt  # noqa: F401 - imported before any clock starts, as GX is below

    from revops.quality import gx_runner

    world = World(world_config(scale))
    t = time.perf_counter()
    pages, env, meta_starts, hubspot_starts = record(world)
    recorded_s = time.perf_counter() - t
    gx_runner._runtime()  # GX's import and context: once per process, not per batch
    out = {"at": datetime.now(UTC).isoformat(), "machine": f"{platform.machine()} {os.cpu_count()} cpu",
           "world": {"days": world.config.days, "start": world.config.start.isoformat()},
           "pages": len(pages), "meta_windows": len(meta_starts), "hubspot_windows": len(hubspot_starts),
           "record_seconds": round(recorded_s, 1), "runs": []}
    with tempfile.TemporaryDirectory() as tmp, fixture_server(pages) as base:
        fixture_env = {k: (base if k in ("REVOPS_META_BASE_URL", "REVOPS_HUBSPOT_BASE_URL") else v)
                       for k, v in env.items()}
        for r in range(rounds):
            for mode in modes:
                # a fresh DuckDB file per run, every row new on both sides: the project writes
                # (and validates) only new or changed rows, so a re-read into a warehouse that
                # already holds them would time a quiet night, not an extraction
                duckdb_path = f"{tmp}/bench-{r}-{mode}.duckdb"
                url = f"duckdb:///{duckdb_path}"
                validating = 0.0
                cpu = time.process_time()  # this process's, every thread (dlt's and ours)
                # both sides with the start-up heap out of the collector's way, as the nightly
                # run extracts (runtime.extract_concurrently)
                with pipeline.heap_frozen():
                    if mode.startswith("dlt"):
                        rows, seconds = run_dlt(base, duckdb_path, tmp, meta_starts, hubspot_starts,
                                                parallelized=mode == "dlt")
                    else:
                        rows, seconds, validating = run_project(fixture_env, url, mode == "validation_on")
                cpu = time.process_time() - cpu
                out["runs"].append({"round": r, "mode": mode, "rows": rows, "seconds": round(seconds, 3),
                                    "cpu_seconds": round(cpu, 3), "rows_per_s": round(rows / seconds),
                                    "validation_share": round(validating / seconds, 3)})
                print(f"round {r} {mode:15s} {rows:,} rows {seconds:6.2f} s (cpu {cpu:5.2f} s) "
                      f"{rows / seconds:10,.0f} rows/s (validating {validating / seconds:.0%})", flush=True)
    ran = [m for m in MODES if any(x["mode"] == m for x in out["runs"])]
    med = {m: statistics.median(x["rows_per_s"] for x in out["runs"] if x["mode"] == m) for m in ran}
    cpu = {m: statistics.median(x["cpu_seconds"] for x in out["runs"] if x["mode"] == m) for m in ran}
    out["median_rows_per_s"] = med
    out["median_cpu_seconds"] = cpu
    # dlt's best configuration is the yardstick: the faster of its parallelized and serial runs
    best = max((m for m in ran if m.startswith("dlt")), key=med.get)
    out["dlt_best"] = best
    # validation's share of the wall time: the time spent inside ``_validate`` over the run's;
    # and its marginal cost, what a run with validation takes beyond one without (1 - on / off);
    # a figure whose modes were not run (``--modes``) is None
    shares = [x["validation_share"] for x in out["runs"] if x["mode"] == "validation_on"]
    out["median_validation_share"] = statistics.median(shares) if shares else None
    both = "validation_on" in med and "validation_off" in med
    out["validation_marginal_share"] = (round(1 - med["validation_on"] / med["validation_off"], 3)
                                        if both else None)
    project = [m for m in ("validation_on", "validation_off") if m in med]
    out["ratio_vs_dlt"] = {m: round(med[m] / med[best], 2) for m in project}
    dlt_cpu = min(cpu[m] for m in ran if m.startswith("dlt"))  # dlt's least CPU, either way
    out["cpu_ratio_vs_dlt"] = {m: round(dlt_cpu / cpu[m], 2) for m in project}
    rows = {m: {x["rows"] for x in out["runs"] if x["mode"] == m} for m in med}
    out["same_rows"] = len(set().union(*rows.values())) == 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="world size (1: ~35k insights, ~20k contacts)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES))
    args = ap.parse_args()
    machine_start()
    result = run(args.scale, args.rounds, tuple(args.modes.split(",")))
    stamp = stamp_now()
    med, ratio, best = result["median_rows_per_s"], result["ratio_vs_dlt"], result["dlt_best"]
    cpu_ratio = result["cpu_ratio_vs_dlt"]
    project = []
    if "validation_on" in med:
        marginal = result["validation_marginal_share"]
        project.append(f"{med['validation_on']:,.0f} rows/s with validation (x{ratio['validation_on']} dlt, "
                       f"{result['median_validation_share']:.0%} of it validating"
                       f"{f', {marginal:.0%} marginal' if marginal is not None else ''})")
    if "validation_off" in med:
        project.append(f"{med['validation_off']:,.0f} without (x{ratio['validation_off']})")
    write_result("extract", stamp, result, (
        f"- {stamp} {result['runs'][0]['rows']:,} rows, {result['machine']}, median of "
        f"{args.rounds}: project {', '.join(project)}, dlt rest_api {med[best]:,.0f} rows/s ({best}); "
        f"CPU ratio {'/'.join(str(cpu_ratio[m]) for m in cpu_ratio)}; same rows: {result['same_rows']}"))
    print(json.dumps({k: result[k] for k in ("median_rows_per_s", "median_cpu_seconds", "dlt_best", "ratio_vs_dlt",
                                             "cpu_ratio_vs_dlt", "median_validation_share",
                                             "validation_marginal_share", "same_rows")}, indent=2))

if __name__ == "__main__":
    main()
