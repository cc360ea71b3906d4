"""Shared fixtures: warehouses on both engines, sandbox worlds, Prefect isolation."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

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

from tests import pg  # noqa: E402

create_pg_database = pg.create_database
drop_pg_database = pg.drop_database


class _LongestFirst:
    """Longest first (end to end, then warehouse builds, then the rest): xdist hands out work in
    collection order, so the many short tests fill the gaps at the end instead of a long one
    starting last. A stable sort keeps each module's (and each shared build's) tests together.
    Runs after pytest's own reordering by fixture parameters."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        items.sort(key=lambda item: 0 if item.get_closest_marker("e2e") else
                   1 if item.get_closest_marker("slow") else 2)


def pytest_configure(config):
    """The controlling process makes sure a PostgreSQL answers (starting a throwaway one when
    none does) before xdist starts its workers, which inherit its DSN."""
    config.pluginmanager.register(_LongestFirst(), "revops-longest-first")
    if not hasattr(config, "workerinput"):
        config._revops_pg = pg.ensure_server()


def pytest_report_header(config):
    return getattr(config, "_revops_pg", None)


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        pg.stop_server()


def _shared_fixture_group(item) -> str | None:
    """The session- or module-scoped fixture this test shares with others (a built warehouse, a
    world's sandboxes), with its parameter (the engine): the xdist group that keeps every test
    of one shared build on one worker, so it is built once per session and engine.

    Of the shared fixtures a test uses, the group is named after one that none of the others
    is built on (``built_warehouse``, not the ``funnel`` read from it): grouping by the derived
    fixture had split one module's warehouse between two groups, and two workers built it twice."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    params = item.callspec.params if hasattr(item, "callspec") else {}
    shared = {}
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if not defs or defs[-1].scope not in ("session", "module"):
            continue
        if not getattr(defs[-1].func, "__module__", "").startswith("tests"):
            continue  # pytest's own (tmp_path_factory...) are shared by everything
        shared[name] = defs[-1]

    def needs_shared(name: str, seen: frozenset = frozenset()) -> bool:
        """Whether fixture ``name`` is built on another shared fixture, directly or not."""
        defs = info.name2fixturedefs.get(name)
        for arg in defs[-1].argnames if defs else ():
            if arg in seen or arg == name:
                continue
            if arg in shared or needs_shared(arg, seen | {name}):
                return True
        return False

    best: tuple[int, str] | None = None
    for name, fixturedef in shared.items():
        if needs_shared(name):
            continue
        rank = 0 if fixturedef.scope == "session" else 1
        # no brackets: xdist reads a node id ending in "]" as having no group
        key = f"{fixturedef.baseid or 'tests'}::{name}:{params.get(name, '')}"
        if best is None or rank < best[0]:
            best = (rank, key)
    return best[1] if best else None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into node id suffixes
def pytest_collection_modifyitems(config, items):
    from tests.faults.catalog import FAULT_TESTS

    for item in items:
        if item.nodeid.split("[")[0] in FAULT_TESTS:  # the fault suite's tests kept where they are
            item.add_marker(pytest.mark.faults)
        if "built_warehouse" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        group = _shared_fixture_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """One Prefect API server for the tests that run flows (a cold start costs 10-80 s): an
    in-process flow finds it as its ephemeral server, the CLI's child processes through
    PREFECT_API_URL. Its users are one xdist group (``_shared_fixture_group``), so it starts
    once per session, not once per worker."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return server.api_url


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
                      clocks=None, after_night=None, **settings_overrides) -> Iterator[dict]:
    """A warehouse on ``engine`` after the nightly pipeline ran on ``world.nightly_clocks()``
    (a night before a campaign rename, then the world's clock), or on ``clocks``, against the
    sandboxes of the sources the world uses: ``{"url", "world", "settings", "engine"}``.
    ``after_night(clock, url)`` is called after each night's run (to look at that night's marts);
    ``settings_overrides`` are settings of the company's configuration (e.g. ``url_tag_platforms``)."""
    from revops import pipeline
    from revops.sandbox.harness import sandboxes

    if engine == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp(prefix) / 'warehouse.duckdb'}"
    else:
        url = create_pg_database()
    try:
        with sandboxes(world) as sb:
            settings = sb.settings(warehouse_url=url, data_dir=tmp_path_factory.mktemp(f"{prefix}-data"),
                                   http_max_backoff_seconds=0.05, email_hash_salt=EMAIL_HASH_SALT,
                                   **settings_overrides)
            for clock in clocks or world.nightly_clocks():  # by default the 2nd sees a rename
                sb.set_clock(clock)
                pipeline.run(settings, "test")
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
