"""The dbt profile never holds a secret on disk: it is persistent (``<data dir>/dbt/profile``),
reads the password from dbt's environment, and nothing goes to a temporary folder."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import duckdb
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from revops import pipeline, transform
from revops.settings import Settings

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_build_on_postgresql_writes_the_password_nowhere(pg_url, tmp_path):
    url = make_url(pg_url)
    # the test server trusts local connections, so any password logs in; a DSN with a real
    # password keeps it
    password = url.password or f"pw-{secrets.token_hex(12)}"
    settings = Settings(_env_file=None, warehouse_url=url.set(password=password).render_as_string(hide_password=False),
                        data_dir=tmp_path / "data")
    wh, _ = pipeline.prepare(settings, "test")
    wh.dispose()
    result = transform.build(settings, select="stg_meta__campaigns")
    assert result.success and any(n["name"] == "stg_meta__campaigns" for n in result.nodes)

    profile = yaml.safe_load((tmp_path / "data" / "dbt" / "profile" / "profiles.yml").read_text())
    target = profile["revops"]["outputs"]["warehouse"]
    assert target["password"] == "{{ env_var('" + transform.PASSWORD_ENV + "', '') }}"
    assert transform.dbt_env(settings)[transform.PASSWORD_ENV] == password
    assert _files_holding(tmp_path / "data", password.encode()) == []
    leftovers = [p for d in Path(tempfile.gettempdir()).glob("revops-dbt-profile-*") if d.is_dir()
                 for p in _files_holding(d, password.encode())]
    assert leftovers == []


def test_profile_of_a_url_without_password_reads_an_empty_one(duckdb_url, tmp_path):
    settings = Settings(_env_file=None, warehouse_url=duckdb_url, data_dir=tmp_path / "data")
    env = transform.dbt_env(settings)
    assert transform.PASSWORD_ENV not in env
    assert Path(env["DBT_PROFILES_DIR"], "profiles.yml").is_file()


def test_duckdb_memory_limit_reaches_our_connection_and_dbts_profile(tmp_path, monkeypatch):
    """One limit for every DuckDB connection (REVOPS_DUCKDB_MEMORY_LIMIT): ours SETs it on
    connect, dbt-duckdb SETs its profile's settings; unset gives the project's default
    (settings.DUCKDB_MEMORY_LIMIT), empty leaves DuckDB's own."""
    from revops.load.warehouse import Warehouse
    from revops.settings import DUCKDB_MEMORY_LIMIT

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    monkeypatch.setenv("REVOPS_DUCKDB_MEMORY_LIMIT", "300MB")
    assert transform.profile_for(url)["settings"] == {"memory_limit": "300MB"}
    with Warehouse(url) as wh:
        # DuckDB reports the limit in MiB: 300MB -> 286.1 MiB
        assert wh.scalar("select current_setting('memory_limit')") == "286.1 MiB"
        # another connection to the same file in this process (GX's, the writer lock's) opens
        other = create_engine(url)
        with other.connect() as conn:
            assert conn.execute(text("select 1")).scalar() == 1
        other.dispose()
    monkeypatch.delenv("REVOPS_DUCKDB_MEMORY_LIMIT", raising=False)
    assert DUCKDB_MEMORY_LIMIT  # a size, not DuckDB's share of whatever RAM the machine has
    assert transform.profile_for(url)["settings"] == {"memory_limit": DUCKDB_MEMORY_LIMIT}
    with Warehouse(f"duckdb:///{tmp_path / 'default.duckdb'}") as wh, \
            duckdb.connect() as probe:
        probe.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        assert wh.scalar("select current_setting('memory_limit')") == probe.execute(
            "select current_setting('memory_limit')").fetchone()[0]
    # one query at a time under a limit the whole database shares; PostgreSQL one per core
    monkeypatch.delenv("REVOPS_DBT_THREADS", raising=False)
    assert transform.profile_for(url)["threads"] == 1
    assert transform.profile_for("postgresql+psycopg://u@h/db")["threads"] == max(1, os.cpu_count() or 1)
    monkeypatch.setenv("REVOPS_DBT_THREADS", "3")
    assert transform.profile_for(url)["threads"] == 3
    monkeypatch.delenv("REVOPS_DBT_THREADS")
    monkeypatch.setenv("REVOPS_DUCKDB_MEMORY_LIMIT", "")
    assert "settings" not in transform.profile_for(url)
    assert transform.profile_for(url)["threads"] == max(1, os.cpu_count() or 1)
    with Warehouse(f"duckdb:///{tmp_path / 'own.duckdb'}") as wh, duckdb.connect() as probe:
        # DuckDB's own: what a fresh connection without settings has
        assert wh.scalar("select current_setting('memory_limit')") == probe.execute(
            "select current_setting('memory_limit')").fetchone()[0]
    # a parse does not depend on the limit (the manifest is kept across it)
    settings = Settings(_env_file=None, warehouse_url=url, data_dir=tmp_path / "data")
    key = transform._manifest_key(settings)
    monkeypatch.setenv("REVOPS_DUCKDB_MEMORY_LIMIT", "1GB")
    assert transform._manifest_key(settings) == key


def test_behavior_flag_source_is_the_one_dbt_names():
    """transform's cheap ``_default_source`` (frames' globals, not ``inspect.stack()``) names the
    same module as dbt-common's own, for a flag created as an adapter creates it."""
    from dbt_common.behavior_flags import BehaviorFlagRendered

    transform._install_flag_source_from_frames()
    ours = BehaviorFlagRendered._default_source
    flag = {"name": "some_flag", "default": False, "docs_url": "https://example.com"}

    def source() -> str:
        return BehaviorFlagRendered(flag, {})._behavior_change_event.flag_source

    got = source()
    BehaviorFlagRendered._default_source = staticmethod(ours.__wrapped__)
    try:
        want = source()
    finally:
        BehaviorFlagRendered._default_source = staticmethod(ours)
    assert got == want == __name__
    # a flag that names its source keeps it
    assert BehaviorFlagRendered({**flag, "source": "dbt-x"}, {})._behavior_change_event.flag_source == "dbt-x"
