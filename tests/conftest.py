"""Shared fixtures: warehouses on both engines, sandbox worlds, Prefect isolation."""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from revops.runtime import quiet_offline_defaults

quiet_offline_defaults()
# Prefect keeps its database and settings here, per test session, never in ~/.prefect
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="revops-prefect-")
os.environ.pop("PREFECT_API_URL", None)
# a developer's .env must not leak into tests: settings are built explicitly
for _key in [k for k in os.environ if k.startswith("REVOPS_") and k != "REVOPS_TEST_PG_DSN"]:
    del os.environ[_key]

from revops.runtime import silence_native_teardown_noise  # noqa: E402

silence_native_teardown_noise()

#: admin connection to the test PostgreSQL server (trust auth on this machine and in CI)
PG_ADMIN = os.environ.get("REVOPS_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def _pg_url(dbname: str) -> str:
    parts = dict(p.split("=", 1) for p in PG_ADMIN.split())
    user = parts.get("user", "postgres")
    pw = f":{parts['password']}" if "password" in parts else ""
    return f"postgresql+psycopg://{user}{pw}@{parts.get('host', '127.0.0.1')}:{parts.get('port', '5432')}/{dbname}"


def create_pg_database() -> str:
    """A fresh, empty PostgreSQL database; returns its SQLAlchemy URL."""
    name = f"revops_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return _pg_url(name)


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """Every warehouse test runs on both engines."""
    if request.param == "duckdb":
        return request.getfixturevalue("duckdb_url")
    return request.getfixturevalue("pg_url")


def pytest_sessionfinish(session, exitstatus):
    """Stop Prefect's temporary API server while pytest's streams are still open (otherwise its
    atexit hook logs into a closed stream)."""
    import sys

    if "prefect.server.api.server" in sys.modules:
        import logging

        from prefect.server.api.server import SubprocessASGIServer

        # its "Stopping temporary server" line would go to a stream a test's capture has closed
        logging.getLogger("prefect").setLevel(logging.WARNING)
        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()


#: the email-hash salt of the pipeline warehouses (random per session: a test proves it is
#: found nowhere in the warehouse's files or tables)
EMAIL_HASH_SALT = secrets.token_hex(16)

#: the world every read-only mart test compares against (one pipeline run per engine per session)
MART_WORLD_CONFIG = {"seed": 8, "days": 75, "contacts_per_campaign_day": 0.8}


@contextmanager
def nightly_warehouse(world, engine: str, tmp_path_factory, prefix: str = "built",
                      clocks=None, after_night=None) -> Iterator[dict]:
    """A warehouse on ``engine`` after the nightly pipeline ran on ``world.nightly_clocks()``
    (a night before a campaign rename, then the world's clock), or on ``clocks``, against the
    sandboxes of the sources the world uses: ``{"url", "world", "settings", "engine"}``.
    ``after_night(clock, url)`` is called after each night's run (to look at that night's marts)."""
    from revops import pipeline
    from revops.sandbox.harness import sandboxes

    if engine == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp(prefix) / 'warehouse.duckdb'}"
    else:
        url = create_pg_database()
    try:
        with sandboxes(world) as sb:
            settings = sb.settings(warehouse_url=url, data_dir=tmp_path_factory.mktemp(f"{prefix}-data"),
                                   http_max_backoff_seconds=0.05, email_hash_salt=EMAIL_HASH_SALT)
            for clock in clocks or world.nightly_clocks():  # by default the 2nd sees a rename
                sb.set_clock(clock)
                pipeline.run_once(settings, "test")
                if after_night is not None:
                    after_night(clock, url)
        yield {"url": url, "world": world, "settings": settings, "engine": engine}
    finally:
        if engine == "postgresql":
            drop_pg_database(url)


@pytest.fixture(scope="session", params=["duckdb", "postgresql"])
def built_warehouse(request, tmp_path_factory):
    """The company on HubSpot after two nights (``nightly_warehouse``). Read-only: do not
    modify it in a test."""
    from revops.sandbox.world import World, WorldConfig

    with nightly_warehouse(World(WorldConfig(**MART_WORLD_CONFIG)), request.param, tmp_path_factory) as built:
        yield built
