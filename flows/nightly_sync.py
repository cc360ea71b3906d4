"""The nightly sync: extract every configured source concurrently -> validate -> load ->
build models -> quality gate -> publish.

This file only wires steps: the sequence itself is ``revops.pipeline.run`` (the one copy of
it); here each step becomes a Prefect task and the sources are extracted concurrently, with
retries on transient errors only. Settings (warehouse URL, credentials) come from the
environment at run time, never from flow parameters.
"""

from __future__ import annotations

# a worker's flow run gets the CLI's process defaults before pyarrow loads: pyarrow's allocator and
# glibc's mmap threshold (a sync's memory, bench/README.md), our progress lines shown
# (flows/backfill.py imports this module)
from revops.runtime import quiet_offline_defaults

quiet_offline_defaults()

from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from revops import pipeline
from revops.runtime import EXTRACT_RETRIES, EXTRACT_RETRY_DELAY_SECONDS
from revops.report.summary import markdown_summary, publish_report
from revops.settings import Settings, get_settings
from revops.sources.errors import is_transient


def _transient(task, task_run, state) -> bool:  # noqa: ARG001 - Prefect's signature
    """Retry a task only when it died of a transient cause (throttling, 5xx, network)."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - anything else is not worth retrying
        return is_transient(exc)
    return False


def _as_task(fn: Callable[..., Any]) -> Callable[..., Any]:
    return task(fn, name=fn.__name__, cache_policy=NO_CACHE)


@task(name="extract_source", retries=EXTRACT_RETRIES, retry_delay_seconds=EXTRACT_RETRY_DELAY_SECONDS,
      retry_condition_fn=_transient,
      cache_policy=NO_CACHE, task_run_name="extract {source}")
def extract_source(settings: Settings, run_id: str, source: str, full_refresh: bool = False,
                   window: pipeline.Window | None = None) -> pipeline.SourceResult:
    result = pipeline.extract_source(settings, run_id, source, full_refresh, window)
    get_run_logger().info(
        "%s: %s", source, ", ".join(f"{s.stream} {s.rows_loaded} rows" for s in result.streams)
    )
    return result


def _extract_concurrently(settings: Settings, run_id: str, sources: list[str],
                          full_refresh: bool = False) -> list[pipeline.SourceResult]:
    """Every source at once; one that still fails after its retries is a failed result (the run
    degrades: ``pipeline.run``), not an exception that would stop the others' build."""
    futures = [extract_source.submit(settings, run_id, name, full_refresh) for name in sources]
    return [pipeline.guarded(name, f.result) for name, f in zip(sources, futures, strict=True)]


def report(result: pipeline.RunResult, key: str = "nightly-sync-summary") -> dict:
    """The run's summary as a Markdown artifact and as the flow's return value."""
    outcome = result.as_dict()
    publish_report(result.summary, result.run_id, link_artifact=True)  # the HTML report; the headline into the summary
    markdown = markdown_summary(result.run_id, outcome["extracted"], result.published, result.summary)
    if result.failed:  # the degraded sources first thing after the table (docs/reliability.md)
        markdown += "\n\n**Completed with warnings**: these sources failed; the marts use their last good data.\n\n"
        markdown += "\n".join(f"- `{s}`: {e}" for s, e in result.failed.items())
        if result.held:
            markdown += "\n\nKept at their last published version (they read a failed CRM): " + ", ".join(
                f"`marts.{m}`" for m in result.held)
    create_markdown_artifact(
        key=key,
        markdown=markdown,
        description="Rows per stream and headline KPIs of this run",
    )
    return outcome


#: the name of the flow run's final state when some source failed (type COMPLETED: the marts
#: were published; a scheduler or automation can match on the name)
WARNINGS_STATE = "CompletedWithWarnings"


def final_state(summary: dict):
    """The flow's return value: the summary, or, when some source failed, a ``Completed`` state
    named ``CompletedWithWarnings`` carrying it (Prefect uses a returned state as the run's final
    state; calling the flow still returns the summary)."""
    from prefect.states import Completed

    if not summary["failed"]:
        return summary
    return Completed(name=WARNINGS_STATE, data=summary, message="stale sources: " + "; ".join(
        f"{s}: {e}" for s, e in summary["failed"].items())[:2000])


@flow(name="nightly_sync", log_prints=True)
def nightly_sync(sources: list[str] | None = None, full_refresh: bool = False) -> dict:
    """``sources``: restrict to these source names (default: every configured source).
    ``full_refresh``: those sources ignore their saved sync state for this run (rows still merge
    on their natural keys, so it is safe to repeat) and the incremental core.fct_ad_daily is
    rebuilt whole."""
    return final_state(report(pipeline.run(get_settings(), "nightly_sync", sources, step=_as_task,
                                           extract=_extract_concurrently, full_refresh=full_refresh)))


if __name__ == "__main__":
    nightly_sync()
