"""PostgreSQL sessions the project opens run without JIT compilation (revops.settings.
POSTGRES_SESSION): the models' cost estimates are large enough that PostgreSQL compiled every
plan, which took longer than running it. An operator's own ``PGOPTIONS`` (or the URL's
``options``) still decides: a setting it names is left as it is."""

from __future__ import annotations

import os

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from revops import transform
from revops.load.warehouse import Warehouse
from revops.settings import Settings, postgres_connect_args, postgres_options


@pytest.mark.parametrize(("given", "expected"), [
    (None, "-c jit=off"),
    ("", "-c jit=off"),
    ("-c search_path=analytics", "-c search_path=analytics -c jit=off"),
    ("-c jit=on", "-c jit=on"),
    ("-cjit=on -c work_mem=64MB", "-cjit=on -c work_mem=64MB"),
    ("--jit=on", "--jit=on"),
    ("-c jit_above_cost=10", "-c jit_above_cost=10 -c jit=off"),
])
def test_the_options_add_only_what_the_operator_left_unset(given, expected):
    assert postgres_options(given) == expected


def test_duckdb_gets_no_postgresql_options(duckdb_url):
    assert postgres_connect_args(duckdb_url) == {}


def _shown(url: str, *names: str) -> list[str]:
    """What a session of ``Warehouse(url)`` shows for each setting of ``names``."""
    wh = Warehouse(url)
    try:
        with wh.engine.connect() as conn:
            return [conn.execute(text(f"show {name}")).scalar_one() for name in names]
    finally:
        wh.dispose()


def test_the_warehouse_connection_runs_without_jit_unless_told(pg_url, monkeypatch):
    monkeypatch.delenv("PGOPTIONS", raising=False)  # (PostgreSQL's own default is on)
    assert _shown(pg_url, "jit") == ["off"]
    monkeypatch.setenv("PGOPTIONS", "-c jit=on")
    assert _shown(pg_url, "jit") == ["on"]
    # the URL's options are kept beside it
    with_options = make_url(pg_url).update_query_dict({"options": "-c statement_timeout=12345"})
    assert _shown(with_options.render_as_string(hide_password=False), "jit", "statement_timeout") == ["off", "12345ms"]


def test_dbt_sessions_run_without_jit(pg_url, tmp_path, monkeypatch):
    """dbt-postgres gives libpq no options, so libpq reads ``PGOPTIONS``: set for an in-process
    build (``_build_env``, connected here with dbt's own driver) and for a ``revops dbt`` child
    (``dbt_env``), and put back after the build."""
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=8MB")
    settings = Settings(_env_file=None, warehouse_url=pg_url, data_dir=tmp_path / "data")
    dsn = make_url(pg_url)
    with transform._build_env(settings):
        with psycopg2.connect(host=dsn.host, port=dsn.port, user=dsn.username, dbname=dsn.database) as conn:
            cur = conn.cursor()
            cur.execute("show jit")
            assert cur.fetchone()[0] == "off"
            cur.execute("show work_mem")
            assert cur.fetchone()[0] == "8MB"
        conn.close()
    assert transform.dbt_env(settings)["PGOPTIONS"] == "-c work_mem=8MB -c jit=off"
    assert os.environ["PGOPTIONS"] == "-c work_mem=8MB"
    duck = Settings(_env_file=None, warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}", data_dir=tmp_path / "d2")
    assert transform.dbt_env(duck)["PGOPTIONS"] == "-c work_mem=8MB"  # DuckDB's build: untouched
