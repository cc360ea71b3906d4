"""The nightly sync: extract every configured source concurrently -> validate -> load ->
build models -> quality gate -> publish -> report.

This file only wires steps; the logic lives in ``revops.pipeline``. Settings (warehouse URL,
credentials) come from the environment at run time, never from flow parameters.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from revops import pipeline
from revops.report.summary import markdown_summary
from revops.settings import get_settings
from revops.sources.errors import RetriableAPIError


def _transient(task, task_run, state) -> bool:  # noqa: ARG001 - Prefect's signature
    """Retry a task only when it died of a transient cause (throttling, 5xx, network)."""
    import requests

    try:
        state.result()
    except (RetriableAPIError, requests.ConnectionError, requests.Timeout):
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


# Every task opens the warehouse and closes it before returning: DuckDB has one writer, and dbt
# (a child process) must find the file free.


@task(cache_policy=NO_CACHE)
def prepare_warehouse(flow_name: str) -> str:
    wh, run_id = pipeline.prepare(get_settings(), flow_name)
    wh.dispose()
    return run_id


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=_transient, cache_policy=NO_CACHE)
def sync_source(source: str, run_id: str) -> dict:
    settings = get_settings()
    with pipeline.Warehouse(settings.warehouse_url) as wh:
        result = pipeline.sync_source(settings, wh, run_id, source)
    get_run_logger().info(
        "%s: %s", source, ", ".join(f"{s.stream} {s.rows_loaded} rows" for s in result.streams)
    )
    return {"source": source, "streams": [s.__dict__ for s in result.streams], "http": result.http}


@task(cache_policy=NO_CACHE)
def build_models(run_id: str) -> None:
    settings = get_settings()
    with pipeline.Warehouse(settings.warehouse_url) as wh:
        pipeline.build_models(settings, wh, run_id)


@task(cache_policy=NO_CACHE)
def quality_gate(run_id: str) -> list[str]:
    with pipeline.Warehouse(get_settings().warehouse_url) as wh:
        return pipeline.quality_gate(wh, run_id)


@task(cache_policy=NO_CACHE)
def publish() -> list[str]:
    with pipeline.Warehouse(get_settings().warehouse_url) as wh:
        return pipeline.publish_marts(wh)


@flow(name="nightly_sync", log_prints=True)
def nightly_sync(sources: list[str] | None = None) -> dict:
    """``sources``: restrict to these source names (default: every configured source)."""
    settings = get_settings()
    chosen = sources or pipeline.configured_sources(settings)
    if not chosen:
        raise RuntimeError("no source is configured: set REVOPS_META_* / REVOPS_HUBSPOT_* (see .env.example)")
    run_id = prepare_warehouse("nightly_sync")
    try:
        futures = [sync_source.submit(name, run_id) for name in chosen]
        extracted = [f.result() for f in futures]
        build_models(run_id)
        quality_gate(run_id)
        published = publish()
    except BaseException as exc:
        with pipeline.Warehouse(settings.warehouse_url) as wh:
            wh.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}"[:4000])
        raise
    with pipeline.Warehouse(settings.warehouse_url) as wh:
        wh.finish_run(run_id, "completed")
        summary = pipeline.summary(wh)
    create_markdown_artifact(
        key="nightly-sync-summary",
        markdown=markdown_summary(run_id, extracted, published, summary),
        description="Rows per stream and headline KPIs of this run",
    )
    return {"run_id": run_id, "extracted": extracted, "published": published, "summary": summary}


if __name__ == "__main__":
    nightly_sync()
