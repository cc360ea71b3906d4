"""Process-level hygiene shared by the CLI and the test suite."""

from __future__ import annotations

import atexit
import os
import sys


def silence_native_teardown_noise() -> None:
    """Hide the "nanobind: leaked instance ... DuckDBPyType" lines DuckDB's bindings print while
    the interpreter tears down modules when great_expectations and duckdb-engine are both loaded
    (a harmless teardown-order artifact; nothing is leaked while the process runs).

    Call it early: atexit runs handlers last-registered-first, so this one runs after every
    other handler (Prefect stopping its temporary server, say) has printed what it has to say.
    Only what is written during module teardown itself is discarded.
    """

    def _discard_stderr_from_here_on() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)

    atexit.register(_discard_stderr_from_here_on)


def quiet_offline_defaults() -> None:
    """Environment defaults for a machine without network, set before Prefect, GX or dbt load:
    no usage analytics, time for Prefect's temporary API server to start, and pyarrow's allocator. Its first start
    creates its SQLite database and runs every migration: ~26 s on a 2-core machine, past
    Prefect's 20 s default (``Timed out while attempting to connect to ephemeral Prefect API
    server``). A value already in the environment wins."""
    for key, value in (
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"),
        ("DO_NOT_TRACK", "1"),
        ("GX_ANALYTICS_ENABLED", "false"),
        ("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"),
        # our own progress lines (rows per source as they load, dbt's nodes as they finish)
        # reach the Prefect run's log and console
        ("PREFECT_LOGGING_EXTRA_LOGGERS", "revops"),
        # ...and outside a flow run (tests, `revops doctor`) they stay local, without a warning
        ("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore"),
        # pyarrow's memory from the C library, not its bundled mimalloc, which kept the freed
        # batches of seven extraction threads: peak RSS 1,284 -> 1,089 MiB at 30 % of issue
        # 15's world, same CPU (bench/README.md, "Large world"); read when pyarrow loads
        ("ARROW_DEFAULT_MEMORY_POOL", "system"),
    ):
        os.environ.setdefault(key, value)
    malloc_defaults()
    show_progress()


#: glibc's mmap threshold: a block this large or larger gets pages of its own, handed back to the
#: system the moment it is freed (``mallopt(M_MMAP_THRESHOLD)``, as ``MALLOC_MMAP_THRESHOLD_``)
MALLOC_MMAP_THRESHOLD = 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
#: glibc's own default trim threshold (free memory at the heap's top past it is given back), which
#: its dynamic threshold raises with the mmap threshold (to 2x, up to 64 MiB)
_DEFAULT_TRIM_THRESHOLD = 128 * 1024


def malloc_defaults() -> bool:
    """Fix glibc's mmap threshold at :data:`MALLOC_MMAP_THRESHOLD` (1 MiB) for this process. By
    default glibc raises the threshold to the size of every mmapped block freed, up to 32 MiB,
    so a sync's large buffers (pyarrow's, numpy's and pandas' for the batches it validates) soon
    come from the heap, where they leave holes among long-lived objects that are never returned:
    at 30 % of issue 15's world (PostgreSQL, so no DuckDB memory) glibc held 600 MiB free but
    resident by the end of the extraction and the sync peaked at 1,234 MiB; with the threshold
    fixed 1,047 MiB, same time and CPU (bench/README.md, "Issue 15 at a glance"). A fixed value
    also stops glibc's trim threshold rising with it; the trim threshold goes back to glibc's
    default, and what the heap holds free now is given back once, so that blocks this size are
    not served from a heap grown before the call. Only on glibc, and not when the operator set
    ``MALLOC_MMAP_THRESHOLD_`` (glibc read it at start). Returns whether it was set."""
    import ctypes
    import platform

    if "MALLOC_MMAP_THRESHOLD_" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD))
    done = bool(libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)) and done
    libc.malloc_trim(0)
    return done


def show_progress() -> None:
    """Our INFO lines (rows per stream as they load, dbt's nodes as they finish) are shown: the
    ``revops`` logger would otherwise inherit the root's WARNING."""
    import logging

    logger = logging.getLogger("revops")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


# ------------------------------------------------------------------------------------------------
# How a CLI run is orchestrated (issue 15). With a Prefect API to report to (PREFECT_API_URL, from
# the environment or Prefect's profile), `revops sync` runs the Prefect flow and the run shows in
# that server. Without one, Prefect 3 would start a temporary API server for the run (a uvicorn
# child process on SQLite: 7-10 s on a quiet 2-core machine, 30 s loaded, 80 s with a fresh
# PREFECT_HOME) whose records nobody reads; the same sequence (`revops.pipeline.run`, the one copy
# of it) then runs in this process instead, sources extracted concurrently with the flow's retry
# rule. Costs measured: deployments/README.md.
# ------------------------------------------------------------------------------------------------

#: a source that failed for a transient cause (throttling, 5xx, network) is retried this often,
#: this long after: the nightly flow's `extract_source` task rule
EXTRACT_RETRIES = 2
EXTRACT_RETRY_DELAY_SECONDS = 30.0


def prefect_api_url() -> str | None:
    """The Prefect API a flow run would report to, or None (Prefect would start a temporary
    server). Looked up where Prefect's settings come from, in its order (environment, ``.env``,
    ``prefect.toml``, ``pyproject.toml``'s ``[tool.prefect]``, the active profile), without
    importing Prefect: that import alone costs 1.5-3 s of a quiet night that does not need it."""
    import tomllib
    from pathlib import Path

    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    from dotenv import dotenv_values

    if url := dotenv_values(".env").get("PREFECT_API_URL"):
        return url

    def _toml(path: Path) -> dict:
        try:
            return tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            return {}

    if url := _toml(Path("prefect.toml")).get("api", {}).get("url"):
        return url
    if url := _toml(Path("pyproject.toml")).get("tool", {}).get("prefect", {}).get("api", {}).get("url"):
        return url
    profiles = _toml(Path(os.environ.get("PREFECT_PROFILES_PATH")
                          or Path(os.environ.get("PREFECT_HOME") or "~/.prefect") / "profiles.toml").expanduser())
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL") or None


def run_nightly_in_process(sources: list[str] | None = None, full_refresh: bool = False) -> dict:
    """The nightly sequence without Prefect: what ``flows.nightly_sync.nightly_sync`` returns
    (run id, rows per stream, published marts, summary), with no API server to report to."""
    from revops import pipeline
    from revops.settings import get_settings

    _console_log()
    from revops.report.summary import publish_report

    result = pipeline.run(get_settings(), "nightly_sync", sources, step=_timed,
                          extract=_timed(extract_concurrently), full_refresh=full_refresh)
    publish_report(result.summary, result.run_id)  # the HTML report, as the flow writes it; the headline
    return result.as_dict()


def _timed(fn):
    """``fn`` logging how long it took (what a Prefect task run's duration tells)."""
    import functools
    import logging
    import time

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            logging.getLogger("revops.runtime").info("%s took %.1f s", fn.__name__,
                                                     time.perf_counter() - started)
    return timed


def _console_log() -> None:
    """Our progress lines on the console, as Prefect's handler would print them (it is not
    loaded here): time, level, logger, message."""
    import logging

    logger = logging.getLogger("revops")
    if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s",
                                               datefmt="%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False  # a root handler (some library's basicConfig) would print it twice
    show_progress()


def extract_concurrently(settings, run_id: str, sources: list[str], full_refresh: bool = False) -> list:
    """Every source at once, one thread each (as the flow's task runner does); a source that
    still fails after its retries is a failed result (the run degrades: ``pipeline.run``)."""
    from concurrent.futures import ThreadPoolExecutor

    from revops import pipeline
    from revops.quality import gx_runner
    from revops.transform import prepare

    # GX's import, then dbt's import and parse, overlap the extraction: GX first, as every stream
    # with a changed row waits for it (the large world's incremental night: all of them stood
    # still ~8 s while dbt parsed ahead of GX), and dbt is only needed once the extraction is done
    prepare(settings, after=gx_runner.prepare())
    with pipeline.heap_frozen(), ThreadPoolExecutor(max_workers=max(1, len(sources)),
                                                    thread_name_prefix="extract") as pool:
        futures = [pool.submit(_extract_with_retries, settings, run_id, name, full_refresh)
                   for name in sources]
        return [pipeline.guarded(name, f.result) for name, f in zip(sources, futures, strict=True)]


def _extract_with_retries(settings, run_id: str, source: str, full_refresh: bool):
    import logging
    import time

    from revops import pipeline
    from revops.sources.errors import is_transient

    for attempt in range(EXTRACT_RETRIES + 1):
        try:
            return pipeline.extract_source(settings, run_id, source, full_refresh)
        except Exception as exc:
            if not is_transient(exc) or attempt == EXTRACT_RETRIES:
                raise
            logging.getLogger("revops.runtime").warning(
                "%s: %s; retrying in %.0f s (%d of %d)", source, type(exc).__name__,
                EXTRACT_RETRY_DELAY_SECONDS, attempt + 1, EXTRACT_RETRIES)
            time.sleep(EXTRACT_RETRY_DELAY_SECONDS)
    raise AssertionError("unreachable")
