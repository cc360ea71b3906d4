"""Backfill: re-read the days ``start``..``end`` of the sources that read by day (the ad
platforms, the ECB), in chunks, then build, gate and publish like a nightly run.

* **Idempotent**: every row merges on its natural key, so re-reading a range that is already
  loaded changes nothing but what the platform restated. The sources' sync state is neither used
  nor moved: the nightly run goes on from where it was.
* **Resumable**: each finished chunk is recorded in ``ops.backfill_chunks`` under the
  backfill's key (range, chunk size, sources); the same command after a failure or a kill skips
  the chunks it finished. Once the backfill publishes, its chunks are forgotten, so running it
  again later re-reads the range (e.g. to pick up restatements).

The CRMs and the offline CSV read what changed, not days: re-read them with
``revops sync --source <name> --full-refresh``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import text

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.settings import Settings
from revops.sources.base import date_windows

CHUNK_DAYS = 14

#: how one chunk of one source is read: ``chunk(settings, run_id, source, window=...)``
Chunk = Callable[..., pipeline.SourceResult]


def windows(start: date, end: date, chunk_days: int = CHUNK_DAYS) -> list[pipeline.Window]:
    if start > end:
        raise ValueError(f"backfill: --start {start} is after --end {end}")
    if chunk_days < 1:
        raise ValueError("backfill: chunks are at least one day")
    return [pipeline.Window(s, e) for s, e in date_windows(start, end, chunk_days)]


def sources_for(settings: Settings, sources: list[str] | None) -> list[str]:
    chosen = list(sources or [s for s in pipeline.configured_sources(settings) if pipeline.reads_by_day(s)])
    by_change = [s for s in chosen if not pipeline.reads_by_day(s)]
    if by_change:
        raise ValueError(f"backfill: {', '.join(by_change)} read what changed, not days: re-read with "
                         f"`revops sync --source {by_change[0]} --full-refresh`")
    return chosen


def key_of(start: date, end: date, chunk_days: int, sources: list[str]) -> str:
    return f"{start}..{end}/{chunk_days}d/{','.join(sorted(sources))}"


def finished_chunks(wh: Warehouse, key: str) -> set[tuple[str, date]]:
    rows = wh.fetch_all("select source, since from ops.backfill_chunks where backfill_key = :k", k=key)
    return {(r["source"], _as_date(r["since"])) for r in rows}


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def record_chunk(wh: Warehouse, key: str, result: pipeline.SourceResult, window: pipeline.Window,
                 run_id: str) -> None:
    with wh.engine.begin() as conn:
        conn.execute(text("insert into ops.backfill_chunks (backfill_key, source, since, until, run_id,"
                          " rows_loaded, finished_at) values (:k, :s, :since, :until, :r, :n, :now)"),
                     {"k": key, "s": result.source, "since": window.since, "until": window.until,
                      "r": run_id, "n": sum(s.rows_loaded for s in result.streams), "now": datetime.now(UTC)})


def extractor(key: str, chunks: list[pipeline.Window], chunk: Chunk = pipeline.extract_source) -> pipeline.Extract:
    """The ``extract`` step of :func:`pipeline.run` for a backfill: every chunk of every source
    not finished under ``key``, in date order, each recorded once loaded."""

    def extract(settings: Settings, run_id: str, sources: list[str], full_refresh: bool = False
                ) -> list[pipeline.SourceResult]:
        with Warehouse(settings.warehouse_url) as wh:
            done = finished_chunks(wh, key)
        results = []
        for source in sources:
            total = pipeline.SourceResult(source)
            for window in chunks:
                if (source, window.since) in done:
                    continue
                result = chunk(settings, run_id, source, window=window)
                with Warehouse(settings.warehouse_url) as wh:
                    record_chunk(wh, key, result, window, run_id)
                total.streams += result.streams
            results.append(total)
        return results

    return extract


def run_backfill(settings: Settings, start: date, end: date, sources: list[str] | None = None,
                 chunk_days: int = CHUNK_DAYS, *, flow: str = "backfill", step: pipeline.Step = lambda fn: fn,
                 chunk: Chunk = pipeline.extract_source) -> pipeline.RunResult:
    """Read ``start``..``end`` in chunks, then build, gate and publish (``pipeline.run``: the
    writer lock, ``ops.runs``); the backfill's chunk records go once it has published."""
    chunks = windows(start, end, chunk_days)
    chosen = sources_for(settings, sources)
    key = key_of(start, end, chunk_days, chosen)
    result = pipeline.run(settings, flow, chosen, step=step, extract=extractor(key, chunks, chunk),
                          track_freshness=False)  # old days say nothing of the nightly's freshness
    with Warehouse(settings.warehouse_url) as wh, wh.engine.begin() as conn:
        conn.execute(text("delete from ops.backfill_chunks where backfill_key = :k"), {"k": key})
    return result
