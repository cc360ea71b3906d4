"""``revops doctor``: is this deployment ready to run? Each source configured or skipped (and
what it lacks), each configured source's credentials and base URL proven with one cheap real
request, the warehouse reachable and writable, the Prefect API reachable when one is set, the
reporting time zone and currency valid."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from revops.errors import first_line, scrub, what_to_fix
from revops.settings import Settings, SettingsError, env_name
from revops.sources.registry import SourceSpec

OK, SKIPPED, FAILED = "ok", "skipped", "FAILED"


@dataclass(frozen=True)
class Check:
    what: str
    status: str
    detail: str


def checks(settings: Settings | None = None) -> list[Check]:
    """Every check, in table order. Settings that do not load are the only check then."""
    if settings is None:
        try:
            settings = Settings()
        except SettingsError as exc:
            return [Check("settings", FAILED, problem) for problem in exc.problems]
    return [
        Check("reporting currency", OK, settings.reporting_currency),
        Check("reporting time zone", OK, settings.reporting_timezone),
        *source_checks(settings),
        warehouse_check(settings),
        prefect_check(),
    ]


def healthy(results: list[Check]) -> bool:
    return all(c.status != FAILED for c in results) and any(
        c.what.startswith("source ") and c.status == OK for c in results)


def source_checks(settings: Settings) -> list[Check]:
    from revops.pipeline import configured_sources
    from revops.sources.registry import all_specs

    # fail fast: one request, a short timeout, no retries (a sync retries; a check reports)
    quick = settings.model_copy(update={"http_max_retries": 0, "http_timeout_seconds": 10.0})
    chosen = configured_sources(settings)
    out = []
    for spec in all_specs():
        what = f"source {spec.name}"
        if spec.name not in chosen:
            missing = spec.missing(settings)
            why = (f"set {', '.join(missing)}" if missing
                   else "reference data: runs when an ad platform is configured")
            out.append(Check(what, SKIPPED, why))
            continue
        try:
            out.append(Check(what, OK, spec.check(quick)))
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, not a crash
            out.append(Check(what, FAILED, scrub(_source_problem(spec, settings, exc))))
    if not chosen:
        out.append(Check("sources", FAILED, "no source is configured: set the variables of at "
                                            "least one ad platform or CRM (see .env.example)"))
    return out


def _source_problem(spec: SourceSpec, settings: Settings, exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        url = (getattr(exc.request, "url", None) or "").split("?")[0]
        return (f"unreachable: {url or 'its base URL'} ({type(exc).__name__}); "
                f"check {_url_variable(settings, spec, url)}")
    return what_to_fix(exc) if spec.secret_env else first_line(exc)


def _url_variable(settings: Settings, spec: SourceSpec, url: str) -> str:
    """The variable whose URL the failed request went to (the longest that prefixes it)."""
    candidates = [
        (len(value), env_name(name)) for name in type(settings).model_fields
        if name.startswith(spec.name) and name.endswith(("_url", "_location"))
        and isinstance(value := getattr(settings, name), str) and value and url.startswith(value.rstrip("/"))
    ]
    return max(candidates)[1] if candidates else f"the {spec.name} base URL setting"


def warehouse_check(settings: Settings) -> Check:
    """Connect, create and drop a table in ``ops`` (DuckDB: the file's folder must be writable)."""
    from sqlalchemy import text

    from revops.load.warehouse import Warehouse

    probe = f"ops.doctor_{uuid.uuid4().hex[:12]}"
    try:
        wh = Warehouse(settings.warehouse_url)
        try:
            with wh.engine.begin() as conn:
                conn.execute(text("create schema if not exists ops"))
                conn.execute(text(f"create table {probe} (id integer)"))
                conn.execute(text(f"drop table {probe}"))
        finally:
            wh.dispose()
    except Exception as exc:  # noqa: BLE001
        return Check("warehouse", FAILED, scrub(f"{first_line(exc)} (REVOPS_WAREHOUSE_URL)"))
    return Check("warehouse", OK, f"{wh.dialect}: reachable, a table created and dropped in ops")


def prefect_api_url() -> str | None:
    """The Prefect API a run would use: PREFECT_API_URL, or the active Prefect profile's."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def prefect_check() -> Check:
    """``GET <api>/health`` when a Prefect API is set (else each run starts its own)."""
    import requests

    url = prefect_api_url()
    if not url:
        return Check("prefect API", SKIPPED, "PREFECT_API_URL not set: each run starts a temporary server")
    try:
        response = requests.get(f"{url.rstrip('/')}/health", timeout=10)
        response.raise_for_status()
    except requests.RequestException as exc:
        return Check("prefect API", FAILED,
                     f"{url} does not answer ({type(exc).__name__}); check PREFECT_API_URL or the Prefect profile")
    return Check("prefect API", OK, f"{url} answers")
