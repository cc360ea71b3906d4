"""The steps of a sync, as plain functions; ``flows/`` wires them into Prefect tasks.

extract (per source, streaming batches) -> validate each batch (GX suite
``expectations/raw__<source>__<stream>.json``; failing rows to ``ops.quarantine``) -> load
(merge + sync state, one transaction per batch) -> ``dbt build`` -> mart quality gate ->
publish (atomic swap into ``marts``).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import pyarrow as pa

from revops.load.publish import built_marts, publish
from revops.load.warehouse import BUILD_SCHEMA, Warehouse
from revops.load.writer_lock import WriterLock
from revops.settings import Settings
from revops.sources.base import Batch, Source, Stream
from revops.sources.registry import AD_PLATFORM, FX, all_specs, get_spec

log = logging.getLogger(__name__)

#: DuckDB has one writer; loads from concurrently extracting sources take turns (PostgreSQL
#: loads run side by side; validation never holds it)
_LOAD_LOCK = threading.Lock()

#: an API page is tens to hundreds of rows, and a GX validation costs 0.1-0.2 s whatever its size:
#: consecutive pages are validated and loaded together, up to this many rows or seconds of reading.
#: The rows are one DuckDB row group: a transaction that appends a whole row group has DuckDB
#: write it to the database file at once instead of through the write-ahead log and again at the
#: checkpoint. bench.load_bench (300k rows, two pairs of runs minutes apart): the pipeline's load
#: at 122,880-row batches 55 % and 50 % of DuckDB's one-statement limit against 39 % and 31 % at
#: 50,000 (PostgreSQL 44 % and 42 % against 38 % and 37 %). A slow source reaches the seconds
#: first (the large world's ad streams: 50-80k rows)
COALESCE_ROWS = 122_880
COALESCE_SECONDS = 20.0
#: ... or this many bytes of Arrow buffers, whichever comes first: what a batch holds in memory (and
#: DuckDB in its buffers while it compares and merges it, under its memory limit,
#: settings.DUCKDB_MEMORY_LIMIT) is bounded by the batch, not by how wide a CRM's rows are (a
#: portal with hundreds of custom properties). The large world's widest rows, HubSpot form
#: submissions (~700 bytes), make 85 MB at COALESCE_ROWS; its ad rows 30-60 MB. Every stream
#: reading (nine at once: HubSpot reads three side by side) gathers its pages up to this size, so
#: the pages waiting to be joined hold much of a night's Arrow memory. 16 MiB, not 32 (not 64
#: before that): at the large world's full size, measured in the same hour, the peak RSS was
#: 1,446-1,449 MiB against 1,604-1,642 MiB at 32, and the night as fast with the raw tables
#: looked up by key first (526 s against 517-521 s; without it 548 s: twice the batches, each
#: compared by a scan of its whole raw table; bench/README.md, "the session of 2026-12-07
#: 07:47-10:47")
COALESCE_BYTES = 16 * 2**20


class ByteBudget:
    """At most ``limit`` bytes of batches held at once by the blocks that :meth:`hold` them, taken
    in the order asked (first come, first served: a large batch is not overtaken for ever by
    small ones). A batch larger than the whole budget waits until it is alone. Waiting holds
    nothing, so a block that holds its bytes and then waits on another lock cannot deadlock."""

    def __init__(self, limit: int):
        self.limit = limit
        self._held = 0
        self._queue: list[object] = []
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        n, ticket = min(max(nbytes, 0), self.limit), object()
        with self._cond:
            self._queue.append(ticket)
            self._cond.wait_for(lambda: self._queue[0] is ticket and self._held + n <= self.limit)
            self._queue.pop(0)
            self._held += n
            self._cond.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self._cond:
                self._held -= n
                self._cond.notify_all()

    @property
    def held(self) -> int:
        return self._held


#: the bytes of Arrow batches being compared, validated and loaded at once across every stream of
#: the process (sources and HubSpot's streams run side by side). Validating converts a batch's
#: checked columns to pandas, several times its Arrow size, and DuckDB's loads take turns anyway
#: (:data:`_LOAD_LOCK`): at the large world's full size the memory peaks came when several of the
#: eight streams validated and loaded at once. Two full batches (:data:`COALESCE_BYTES`) at once
#: keep both cores busy; a stream whose batch waits stops reading, so it holds one batch at most
IN_FLIGHT_BYTES = 2 * COALESCE_BYTES
_IN_FLIGHT = ByteBudget(IN_FLIGHT_BYTES)


@contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects alive now (the imported libraries: Prefect, GX, dbt, pandas, ~330k objects)
    are left out of the garbage collector's full passes until the block ends (``gc.freeze``):
    an extraction allocates a dict per decoded JSON object, and every full pass walked all of
    them again. Measured on bench.extract_bench: ~20 % of an extraction's CPU. Objects are
    still freed by reference counting; only cycles among the frozen ones wait for the end."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def coalesce(batches: Iterator[Batch], max_rows: int = COALESCE_ROWS,
             max_seconds: float = COALESCE_SECONDS, max_bytes: int = COALESCE_BYTES) -> Iterator[Batch]:
    """Join consecutive batches of one stream into one, up to ``max_rows`` rows, ``max_bytes``
    bytes or ``max_seconds`` of reading, carrying the last state among them (the
    state a batch carries is the stream's whole state once it is loaded, so the last one covers
    the rows of all of them). When the source fails mid-stream, what was read before the failure
    is still yielded, then the error is raised: a crash keeps the checkpoints it reached."""
    pending: list[Batch] = []
    rows = size = 0  # of the pending batches, counted once each (its buffers: ~2 us a page)
    started = time.monotonic()

    def joined() -> Batch:
        if len(pending) == 1:
            return pending[0]
        state = next((b.state for b in reversed(pending) if b.state is not None), None)
        records = pa.concat_tables([b.records for b in pending], promote_options="default")
        return Batch(pending[0].stream, records, state=state, meta={"batches": len(pending)})

    try:
        for batch in batches:
            pending.append(batch)
            rows, size = rows + len(batch), size + batch.records.get_total_buffer_size()
            if rows >= max_rows or size >= max_bytes or time.monotonic() - started >= max_seconds:
                yield joined()
                pending, rows, size, started = [], 0, 0, time.monotonic()
    except Exception:
        if pending:
            yield joined()
        raise
    if pending:
        yield joined()


class QualityGateFailed(RuntimeError):
    """A mart failed its suite: nothing was published, yesterday's marts stay."""

    def __init__(self, failures: list[str]):
        super().__init__("quality gate failed; marts not published:\n  " + "\n  ".join(failures))
        self.failures = failures


@dataclass
class StreamStats:
    source: str
    stream: str
    rows_extracted: int = 0
    rows_loaded: int = 0
    #: of the rows loaded, those raw lacked or held with other content (a re-read of unchanged
    #: rows is neither validated again nor written)
    rows_changed: int = 0
    rows_quarantined: int = 0
    batches: int = 0
    seconds: float = 0.0
    #: of ``seconds``, validating the changed rows (none to validate: none spent); GX's
    #: start-up, once per process and thread, is not counted (the stream waited on it, though)
    validation_seconds: float = 0.0
    state_before: dict | None = None
    state_after: dict | None = None


@dataclass
class SourceResult:
    source: str
    streams: list[StreamStats] = field(default_factory=list)
    http: dict[str, int] = field(default_factory=dict)
    #: why the source's extraction failed (after the client's and the task's retries); None when
    #: it succeeded. A failed source degrades the run, it does not stop it (:func:`run`)
    error: str | None = None
    #: the exception itself (for the CLI's one line and traceback log when every source failed)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.streams)

    @property
    def rows_changed(self) -> int:
        return sum(s.rows_changed for s in self.streams)


def guarded(source: str, fn: Callable[..., SourceResult], *args: Any) -> SourceResult:
    """``fn(*args)``, the extraction of one source; its failure becomes a :class:`SourceResult`
    carrying the error, so the other sources still build and publish (:func:`run`). What the
    source loaded before it failed stays in raw (every batch commits with its checkpoint)."""
    from revops.errors import scrub

    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - any failure of one source degrades, not stops, the run
        error = scrub(f"{type(exc).__name__}: {exc}")[:4000]  # it lands in ops tables and logs
        log.error("%s failed; the run goes on with its last good data: %s", source, error)
        return SourceResult(source, error=error, exception=exc)


@dataclass(frozen=True)
class Window:
    """Days to (re-)read, ``since`` to ``until`` inclusive: a source reads them as if its first
    day were ``since`` and today were ``until``. Only sources whose "now" is injectable (a
    ``clock`` argument: the ad platforms and the ECB) read by day; the CRMs and the offline CSV
    read everything that changed, so a window means nothing to them (:func:`reads_by_day`)."""

    since: date
    until: date

    def build(self, settings: Settings, source_name: str) -> Source:
        # 11:00 UTC is the day ``until`` in every zone from UTC-11 to UTC+12, the zones the ad
        # platforms report days in
        now = datetime.combine(self.until, dtime(11), UTC)
        return get_spec(source_name).build(settings.model_copy(update={"start_date": self.since}),
                                           clock=lambda: now)


def reads_by_day(source_name: str) -> bool:
    return "clock" in get_spec(source_name).parameters()


def configured_sources(settings: Settings) -> list[str]:
    """The sources with their settings. Reference data (the ECB's rates) is not a source a
    company configures: it runs only to convert the spend of a configured ad platform, so an
    empty environment configures nothing (rather than minutes of retries on the ECB alone)."""
    specs = [s for s in all_specs() if s.configured(settings)]
    if not any(s.kind == AD_PLATFORM for s in specs):
        specs = [s for s in specs if s.kind != FX]
    return [s.name for s in specs]


def chosen_sources(settings: Settings, sources: list[str] | None = None) -> list[str]:
    """``sources``, or every configured source; :class:`NoSourceConfigured` when none is (the
    CLI calls it before Prefect starts)."""
    chosen = list(sources or configured_sources(settings))
    if not chosen:
        raise NoSourceConfigured(
            "no source is configured: set the REVOPS_<SOURCE>_* variables of at least one ad "
            "platform or CRM (see .env.example; `revops doctor` shows what each source lacks)")
    return chosen


def all_streams(settings: Settings) -> list[Stream]:
    return [st for spec in all_specs() for st in spec.build(settings).streams]


def prepare(settings: Settings, flow: str, run_id: str | None = None,
            abandon_stale: bool = False) -> tuple[Warehouse, str]:
    """Schemas, ops tables and an ``ops.runs`` row; raw tables exist for every declared stream
    (empty until loaded) so the models build for a company that uses only some sources.
    ``abandon_stale`` (only for the holder of the writer lock): ``running`` rows of other runs
    become ``abandoned``, since their owners are gone."""
    wh = Warehouse(settings.warehouse_url)
    wh.ensure_schemas()
    if abandon_stale:
        run_id = run_id or uuid.uuid4().hex
        for stale in wh.abandon_stale_runs(run_id):
            log.warning("run %s (host %s, pid %s, started %s) was left running by a process that is "
                        "gone: marked abandoned", stale["run_id"], stale["host"], stale["pid"],
                        stale["started_at"])
    for stream in all_streams(settings):
        wh.ensure_stream_table(stream)
    return wh, wh.start_run(flow, run_id)


def sync_source(
    settings: Settings,
    wh: Warehouse,
    run_id: str,
    source_name: str,
    on_batch: Callable[[str, int], None] | None = None,
    *,
    full_refresh: bool = False,
    window: Window | None = None,
    streams: Collection[str] | None = None,
) -> SourceResult:
    """Extract every stream of one source (or only ``streams``, by name), validating and loading
    batch by batch.

    ``full_refresh``: read as if nothing had been synced (the saved state is ignored, then
    replaced by this read's). ``window``: read only those days (a backfill): the saved state is
    neither used nor changed, so the nightly cursor stays where it was. Either way every row
    merges on its natural key, so re-reading is idempotent."""
    def split_rows():  # GX's import (~4 s) only once there is a changed row to validate
        from revops.quality.gx_runner import split_rows

        return split_rows

    def gx_ready() -> None:
        from revops.quality.gx_runner import ready

        ready()

    source = window.build(settings, source_name) if window else get_spec(source_name).build(settings)
    result = SourceResult(source_name)
    chosen = [st for st in source.streams if streams is None or st.name in streams]

    def sync_stream(stream: Stream) -> StreamStats:
        saved = None if (full_refresh or window) else wh.get_state(source_name, stream.name)
        stats = StreamStats(source_name, stream.name, state_before=saved)
        stats.state_after = stats.state_before
        started = time.perf_counter()
        for batch in coalesce(source.read(stream, stats.state_before)):
            with _IN_FLIGHT.hold(batch.records.get_total_buffer_size()):
                process(stream, stats, batch)
            if on_batch:
                on_batch(f"{source_name}.{stream.name}", len(batch))
            elapsed = time.perf_counter() - started
            log.info("%s.%s: %d rows loaded (%d changed), %d quarantined (%.0f rows/s)", source_name,
                     stream.name, stats.rows_loaded, stats.rows_changed, stats.rows_quarantined,
                     stats.rows_extracted / max(elapsed, 1e-3))
        stats.seconds = time.perf_counter() - started
        counts = {k: v for k, v in stats.__dict__.items() if k not in ("source", "stream")}
        wh.record_stream(run_id, source_name, stream.name, **counts)
        return stats

    def process(stream: Stream, stats: StreamStats, batch: Batch) -> None:
        """One batch: compared with raw, its changed rows validated, loaded with its state."""
        stats.batches += batch.meta.get("batches", 1)
        stats.rows_extracted += len(batch)
        # rows raw already holds as they are (a lookback re-read) are neither validated
        # again nor written: they were when they first came. The batch is compared once:
        # the load takes the comparison (this run is raw's one writer)
        with _LOAD_LOCK if wh.dialect == "duckdb" else nullcontext():
            compared = wh.compare(stream.table, batch.records, stream.primary_key)
        if compared.changed.num_rows:
            gx_ready()  # GX's start-up is not this batch's validation
        validating = time.perf_counter()
        good, bad, checked = _validate(split_rows, stream, compared.changed)
        if checked is not None:  # GX ran: the batch had changed rows
            stats.validation_seconds += time.perf_counter() - validating
        # rows, quarantine, suite results and state: one transaction per batch
        with _LOAD_LOCK if wh.dialect == "duckdb" else nullcontext():
            res = wh.load_batch(
                source=source_name,
                stream=stream.name,
                table=good,
                primary_key=stream.primary_key,
                state=None if window else batch.state,
                run_id=run_id,
                quality=checked.to_records() if checked is not None else None,
                quarantined=bad,
                compared=compared,
            )
        stats.rows_quarantined += len(bad)
        stats.rows_loaded += compared.unchanged + res.rows_loaded
        stats.rows_changed += res.rows_changed
        if batch.state is not None:
            stats.state_after = batch.state

    # a source whose streams wait on the platform more than on this process (HubSpot: a
    # million contacts and as many form submissions, each its own requests) reads
    # ``stream_workers`` of them side by side, in the order declared; each stream's batches
    # still load in order with their state, and the results keep the declared order
    workers = min(getattr(source, "stream_workers", 1), len(chosen))
    if workers <= 1:
        result.streams = [sync_stream(stream) for stream in chosen]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{source_name}-stream") as pool:
            futures = [pool.submit(sync_stream, stream) for stream in chosen]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f.done() and f.exception() is not None), None)
            if failed is not None:  # the streams not started yet are not started
                for f in futures:
                    f.cancel()
            result.streams = [f.result() for f in futures]  # the first failure (in order) raises
    result.http = dict(getattr(getattr(source, "client", None), "stats", {}) or {})
    return result


def _validate(split_rows, stream: Stream, records: pa.Table) -> tuple[pa.Table, list, Any]:
    """Rows that fail the stream's suite go to quarantine (whole record + reasons).

    Returns the good rows, the quarantined ``(key, record, reasons)`` and the suite result
    (None for an empty batch, which has nothing to check: GX is not even imported for it)."""
    if records.num_rows == 0:
        return records, [], None
    suite = f"raw__{stream.table}"
    split = split_rows()
    from revops.quality.gx_runner import columns_read

    # only the columns the suite reads go to pandas (a third of a CRM object's)
    read = columns_read(suite)
    frame = records if read is None else records.select([c for c in records.column_names if c in read])
    _, bad_rows, checked = split(suite, frame.to_pandas())
    if not bad_rows:
        return records, [], checked
    bad_pos = {pos for pos, _ in bad_rows}
    good = records.take([i for i in range(records.num_rows) if i not in bad_pos])
    bad_records = records.take([pos for pos, _ in bad_rows]).to_pylist()
    bad = []
    for (_, reasons), record in zip(bad_rows, bad_records, strict=True):
        key = "|".join(str(record.get(k)) for k in stream.primary_key)
        bad.append((key, record, reasons))
    return good, bad, checked


def mart_parameters(wh: Warehouse, suite_name: str) -> dict[str, Any]:
    """Run-time totals a mart suite reconciles to, declared in the suite file itself:
    ``"meta": {"reconcile": {"name": {"sql": "select ...", "tolerance": 0.005}}}`` gives the
    suite parameters ``name_min`` and ``name_max`` (the query's value minus/plus tolerance)."""
    import json

    from revops.quality.gx_runner import SUITES_DIR

    meta = json.loads((SUITES_DIR / f"{suite_name}.json").read_text()).get("meta") or {}
    params: dict[str, Any] = {}
    for name, spec in (meta.get("reconcile") or {}).items():
        value = float(wh.scalar(spec["sql"]) or 0)
        tolerance = float(spec.get("tolerance", 0))
        params[f"{name}_min"] = value - tolerance
        params[f"{name}_max"] = value + tolerance
    return params


def quality_gate(wh: Warehouse, run_id: str, marts: list[str] | None = None) -> list[str]:
    """Validate every built mart (or ``marts``) against ``expectations/marts__<name>.json``."""
    from revops.quality.gx_runner import SUITES_DIR, validate_table

    failures: list[str] = []
    marts = built_marts(wh) if marts is None else marts
    for mart in marts:
        suite = f"marts__{mart}"
        if not (SUITES_DIR / f"{suite}.json").exists():
            failures.append(f"{mart}: no suite expectations/{suite}.json (every mart needs one)")
            continue
        res = validate_table(suite, wh.url, BUILD_SCHEMA, mart, parameters=mart_parameters(wh, suite))
        wh.record_quality(run_id, "mart", res.to_records())
        failures += [f"{mart}: {r.description}" for r in res.failed]
    if failures:
        raise QualityGateFailed(failures)
    return marts


class NoSourceConfigured(RuntimeError):
    """Nothing to extract: no source has its settings."""


@dataclass
class RunResult:
    run_id: str
    extracted: list[SourceResult]
    published: list[str]
    summary: dict[str, Any]
    #: ``completed`` or ``completed_with_warnings`` (some source failed: see ``failed``)
    status: str = "completed"
    #: the sources that failed, with their error
    failed: dict[str, str] = field(default_factory=dict)
    #: built marts not published (they depend on a failed CRM): yesterday's version stays
    held: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """What a run returns (the flow's return value, the in-process run's, the CLI's input)."""
        extracted = [{"source": r.source, "streams": [s.__dict__ for s in r.streams], "http": r.http,
                      "error": r.error} for r in self.extracted]
        return {"run_id": self.run_id, "extracted": extracted, "published": self.published,
                "summary": self.summary, "status": self.status, "failed": self.failed,
                "held": self.held}


#: how a step runs: ``step(fn)`` returns the callable to call (identity here; the Prefect flow
#: turns each step into a task)
Step = Callable[[Callable[..., Any]], Callable[..., Any]]
#: how the sources are extracted: ``extract(settings, run_id, sources, full_refresh)``
Extract = Callable[[Settings, str, list[str], bool], list[SourceResult]]


def start_run(settings: Settings, flow: str, run_id: str | None = None) -> str:
    """The run's ``ops.runs`` row. Called by :func:`run` while it holds the writer lock, so a
    ``running`` row left by another run is abandoned: its owner is gone."""
    wh, run_id = prepare(settings, flow, run_id, abandon_stale=True)
    wh.dispose()
    return run_id


def extract_source(settings: Settings, run_id: str, source: str, full_refresh: bool = False,
                   window: Window | None = None) -> SourceResult:
    """One source into raw, over its own warehouse connection (sources may run concurrently).

    A failure raises; :func:`guarded` turns it into a failed result, so the run degrades. For the
    ECB's rates that means: the rates already stored keep serving, spend in the reporting
    currency needs none, spend that needs a missing rate is held back and quarantined by the
    build (revops.quality.fx), and ``ops.source_freshness`` says the rates are stale."""
    with Warehouse(settings.warehouse_url) as wh:
        return sync_source(settings, wh, run_id, source, full_refresh=full_refresh, window=window)


def extract_in_turn(settings: Settings, run_id: str, sources: list[str],
                    full_refresh: bool = False) -> list[SourceResult]:
    return [guarded(name, extract_source, settings, run_id, name, full_refresh) for name in sources]


@dataclass
class BuildPlan:
    """What a run builds: everything (``full``), or only what reads the raw tables changed since
    a build over them last published (``streams``), plus what depends on the run itself
    (:data:`EVERY_RUN`). ``reason`` says why, for the log and the run's summary."""

    full: bool
    streams: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""
    #: the incremental models (``core.fct_ad_daily``) rebuilt whole from raw (dbt's --full-refresh)
    refresh: bool = False


#: what every run changes, so every run rebuilds what reads it: ``ops.source_freshness``
#: (``marts.kpi_data_freshness`` describes this run) and ``ops.runs``/``ops.run_streams`` (the
#: CRM data's cut-off, ``int_crm_as_of``: a run that read a CRM moves it, and
#: ``marts.kpi_lead_response`` decides pending or missed SLAs against it)
EVERY_RUN = (("ops", "source_freshness"), ("ops", "runs"), ("ops", "run_streams"))


def plan_build(settings: Settings, full_refresh: bool = False) -> BuildPlan:
    """A full build when the models or their settings changed since the marts were last fully
    built and published (:func:`revops.transform.project_fingerprint`), on a first run, or for
    a full refresh; otherwise only what the raw changes since the last published build reach
    (none on a quiet night: the lookback re-read changed nothing)."""
    from revops.transform import project_fingerprint

    with Warehouse(settings.warehouse_url) as wh:
        stored = wh.model_fingerprint()
        unbuilt = wh.unbuilt_changes()
    if full_refresh:
        return BuildPlan(True, unbuilt, "full refresh", refresh=True)
    if stored is None:
        return BuildPlan(True, unbuilt, "no full build published yet")
    if stored != project_fingerprint(settings):
        return BuildPlan(True, unbuilt, "the models, their settings or the mart suites changed")
    if not unbuilt:
        return BuildPlan(False, [], "no source changed a row: only this run's freshness and cut-off")
    return BuildPlan(False, unbuilt, "changed: " + ", ".join(f"{s}.{t}" for s, t in unbuilt))


def transform(settings: Settings, run_id: str, plan: BuildPlan | None = None) -> list[str]:
    """The build the plan asks for; returns the marts it built (every mart on a full build)."""
    from revops.load.pseudonymize import refresh_email_hashes
    from revops.quality.fx import quarantine_unconverted
    from revops.transform import build, downstream_of

    plan = plan or BuildPlan(True)
    with Warehouse(settings.warehouse_url) as wh:
        hashed = refresh_email_hashes(wh, settings, run_id)
        # the raw tables this build reads anew, with fresh statistics for PostgreSQL's planner
        wh.analyze([*(("raw", f"{s}__{t}") for s, t in plan.streams),
                    *([("ops", "email_hashes")] if hashed else [])])
        wh.dispose()  # DuckDB: dbt opens the file next; one writer at a time
        if plan.full:
            result = build(settings, full_refresh=plan.refresh)
        else:
            reads = [*EVERY_RUN, *(("raw", f"{s}__{t}") for s, t in plan.streams)]
            if hashed:  # new pseudonyms (new emails, or a new salt) reach dim_contact
                reads.append(("ops", "email_hashes"))
            result = build(settings, select=downstream_of(settings, reads))
        built = {n["name"] for n in result.nodes if n["unique_id"].startswith("model.")}
        marts = [m for m in built_marts(wh) if m in built]
        # spend that needs an ECB rate the warehouse lacks was held back by dbt: quarantined, named
        quarantine_unconverted(wh, run_id)
    log.info("dbt built %d models (%s), %d marts: %s", len(built),
             "all" if plan.full else plan.reason, len(marts), ", ".join(marts))
    return marts


def gate(settings: Settings, run_id: str, marts: list[str] | None = None) -> list[str]:
    """The quality gate on ``marts`` (default: every built mart)."""
    with Warehouse(settings.warehouse_url) as wh:
        return quality_gate(wh, run_id, marts)


def publish_built(settings: Settings, held: list[str] | None = None,
                  marts: list[str] | None = None) -> list[str]:
    """Publish ``marts`` (default: every built mart) except ``held`` (those keep their
    published version)."""
    with Warehouse(settings.warehouse_url) as wh:
        todo = built_marts(wh) if marts is None else marts
        return publish(wh, [m for m in todo if m not in set(held or ())])


def built_over(settings: Settings, run_id: str, plan: BuildPlan) -> None:
    """After a publish that held nothing back: the changes the build covered are built, and a
    full build records what it was built from (the next run may skip what is unchanged)."""
    from revops.transform import project_fingerprint

    with Warehouse(settings.warehouse_url) as wh:
        wh.clear_unbuilt(plan.streams)
        if plan.full:
            wh.set_model_fingerprint(project_fingerprint(settings), run_id)


#: ``ops.runs.status`` of a run that published while some source failed (exit code
#: ``revops.cli.EXIT_WARNINGS``; the Prefect flow ends in the ``CompletedWithWarnings`` state)
COMPLETED_WITH_WARNINGS = "completed_with_warnings"


class AllSourcesFailed(RuntimeError):
    """Every source of the run failed: nothing new to build, the published marts stay."""


def record_freshness(settings: Settings, run_id: str, extracted: list[SourceResult]) -> dict[str, str]:
    """``ops.source_freshness`` after this run's extraction: ``{source: status}``."""
    with Warehouse(settings.warehouse_url) as wh:
        return {r.source: wh.record_freshness(run_id, r.source, get_spec(r.source).kind,
                                              rows=r.rows_loaded, error=r.error)
                for r in extracted}


def held_marts(settings: Settings, failed: list[str]) -> list[str]:
    """The rule for a failed CRM: every mart that reads it (through any model, by dbt's lineage
    in the manifest of this run's build) keeps yesterday's published version, so no mart mixes
    today's spend with yesterday's funnel; the marts that do not read it (the freshness mart)
    publish. A failed ad platform, offline file or ECB holds nothing: its last good raw rows
    build today's marts, and ``marts.kpi_data_freshness`` says it is stale."""
    import json

    from revops.sources.registry import CRM
    from revops.transform import work_dir

    crms = [s for s in failed if get_spec(s).kind == CRM]
    if not crms:
        return []
    manifest = json.loads((work_dir(settings) / "target" / "manifest.json").read_text())
    children = manifest["child_map"]
    todo = [node for node in manifest["sources"]
            if any(manifest["sources"][node]["name"].startswith(f"{c}__") for c in crms)]
    seen: set[str] = set()
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(children.get(node, ()))
    return sorted(manifest["nodes"][n].get("alias") or manifest["nodes"][n]["name"]
                  for n in seen if n.startswith("model.")
                  and manifest["nodes"][n].get("schema") == BUILD_SCHEMA)


def run(settings: Settings, flow: str = "manual", sources: list[str] | None = None, *,
        step: Step = lambda fn: fn, extract: Extract = extract_in_turn,
        full_refresh: bool = False, track_freshness: bool = True) -> RunResult:
    """The nightly sequence, the one copy of it: every configured source (or ``sources``) into
    raw, one dbt build, the quality gate, the publish. ``flows/nightly_sync.py`` runs it with
    each step as a Prefect task and the sources extracted concurrently; tests and scripts call it
    as it is. A failed source degrades the run rather than stopping it: the others build and
    publish over its last good raw rows, ``ops.source_freshness`` marks it stale, a failed CRM
    holds the marts that read it (:func:`held_marts`) and the run ends
    ``completed_with_warnings``; only when every source failed does the run fail. Any other
    failure is recorded in ``ops.runs`` and re-raised, the published marts left as they were.
    Every step opens the warehouse and closes it before it returns (DuckDB has one writer, and
    dbt, a child process, must find the file free). ``full_refresh``: the sources
    ignore their saved sync state for this run (rows still merge on their keys) and the
    incremental models are rebuilt whole.
    ``track_freshness=False`` (a backfill re-reading old days): ``ops.source_freshness`` is left
    as the nightly runs wrote it."""
    chosen = chosen_sources(settings, sources)
    # one writer at a time: a second run fails here at once (WarehouseBusy names the holder),
    # before it writes anything
    with WriterLock(settings.warehouse_url, uuid.uuid4().hex) as lock:
        run_id = step(start_run)(settings, flow, lock.holder.run_id)
        try:
            extracted = extract(settings, run_id, chosen, full_refresh)
            failed = {r.source: r.error for r in extracted if r.error}
            if track_freshness:
                record_freshness(settings, run_id, extracted)
            if len(failed) == len(extracted):
                # from the first one's exception: the CLI's one line names its source and variable
                raise AllSourcesFailed("every source failed; nothing published:\n  " + "\n  ".join(
                    f"{s}: {e}" for s, e in failed.items())) from extracted[0].exception
            plan = step(plan_build)(settings, full_refresh)
            log.info("build: %s (%s)", "everything" if plan.full else "only what changed", plan.reason)
            marts = step(transform)(settings, run_id, plan)
            step(gate)(settings, run_id, marts)
            held = [m for m in held_marts(settings, list(failed)) if m in marts]
            published = step(publish_built)(settings, held, marts)
            if not held:  # a held mart still lacks these changes: the next run builds them again
                step(built_over)(settings, run_id, plan)
        except BaseException as exc:
            with Warehouse(settings.warehouse_url) as wh:
                wh.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}"[:4000])
            raise
        status = COMPLETED_WITH_WARNINGS if failed else "completed"
        message = "; ".join(f"{s} failed ({e})" for s, e in failed.items()) or None
        if held:
            message += f"; held at their last published version: {', '.join(held)}"
        build = {"full": plan.full, "reason": plan.reason, "marts": marts,
                 "changed_streams": [f"{s}.{t}" for s, t in plan.streams]}
        with Warehouse(settings.warehouse_url) as wh:
            wh.finish_run(run_id, status, message[:4000] if message else None)
            return RunResult(run_id, extracted, published, {**summary(wh), "build": build}, status,
                             failed, held)


def summary(wh: Warehouse) -> dict[str, Any]:
    """The headline numbers of the published channel mart and row counts per table."""
    if not wh.table_exists("marts", "kpi_channel_daily"):  # held on a first run (failed CRM)
        return {"mart_rows": 0, "spend": 0.0, "leads": 0, "mqls": 0, "sqls": 0, "cpl": None, "tables": {}}
    row = wh.fetch_all(
        "select count(*) as n, coalesce(sum(spend), 0) as spend, coalesce(sum(leads), 0) as leads,"
        " coalesce(sum(mqls), 0) as mqls, coalesce(sum(sqls), 0) as sqls from marts.kpi_channel_daily"
    )[0]
    tables = wh.fetch_all(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('raw', 'core', 'marts', 'ops') order by 1, 2"
    )
    counts = {
        f"{t['table_schema']}.{t['table_name']}": int(
            wh.scalar(f'select count(*) from {t["table_schema"]}."{t["table_name"]}"')
        )
        for t in tables
    }
    spend = float(row["spend"])
    leads = int(row["leads"])
    return {
        "mart_rows": int(row["n"]),
        "spend": spend,
        "leads": leads,
        "mqls": int(row["mqls"]),
        "sqls": int(row["sqls"]),
        "cpl": spend / leads if leads else None,
        "tables": counts,
    }
