"""Backfill a date range: ``revops.backfill.run_backfill`` with each chunk of each source a
Prefect task (``backfill meta 2026-06-01..2026-06-14``) and build, gate, publish as tasks, as in
the nightly flow. Resumable: the same parameters after a failure skip the chunks it finished.
Deploy it beside the nightly flow (deployments/prefect.yaml) to run it from the UI."""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.nightly_sync import _as_task, extract_source, report
from revops.backfill import CHUNK_DAYS, run_backfill
from revops.settings import get_settings

backfill_chunk = extract_source.with_options(name="backfill_chunk",
                                             task_run_name="backfill {source} {window.since}..{window.until}")


@flow(name="backfill", log_prints=True)
def backfill(start: date, end: date, sources: list[str] | None = None, chunk_days: int = CHUNK_DAYS) -> dict:
    """Re-read ``start``..``end`` (inclusive) of ``sources`` (default: every configured source
    that reads by day: the ad platforms and the ECB) in ``chunk_days`` chunks, then publish."""
    return report(run_backfill(get_settings(), start, end, sources, chunk_days, step=_as_task,
                               chunk=backfill_chunk), key="backfill-summary")
