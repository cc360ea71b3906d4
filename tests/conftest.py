"""Shared fixtures: warehouses on both engines, sandbox worlds, Prefect isolation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

#: admin connection to the test PostgreSQL server (trust auth on this machine and in CI)
PG_ADMIN = os.environ.get("REVOPS_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def _pg_url(dbname: str) -> str:
    parts = dict(p.split("=", 1) for p in PG_ADMIN.split())
    user = parts.get("user", "postgres")
    pw = f":{parts['password']}" if "password" in parts else ""
    return f"postgresql+psycopg://{user}{pw}@{parts.get('host', '127.0.0.1')}:{parts.get('port', '5432')}/{dbname}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"revops_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """Every warehouse test runs on both engines."""
    if request.param == "duckdb":
        return request.getfixturevalue("duckdb_url")
    return request.getfixturevalue("pg_url")
