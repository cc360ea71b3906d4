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
    no usage analytics, and time for Prefect's temporary API server to start. Its first start
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
    ):
        os.environ.setdefault(key, value)
    show_progress()


def show_progress() -> None:
    """Our INFO lines (rows per stream as they load, dbt's nodes as they finish) are shown: the
    ``revops`` logger would otherwise inherit the root's WARNING."""
    import logging

    logger = logging.getLogger("revops")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
