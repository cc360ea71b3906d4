"""Publishing is atomic for readers, and the BI role reads marts and nothing else."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from sqlalchemy import text

from revops.load.grants import grant_bi_role
from revops.load.publish import publish
from revops.load.warehouse import Warehouse
from tests import pg

OLD, NEW = (5000, 1), (3000, 2)  # (rows, value per row): each state has its own count and sum


def _build(wh: Warehouse, rows: int, value: int) -> None:
    with wh.engine.begin() as conn:
        conn.execute(text("drop table if exists marts_build.kpi_x"))
        conn.execute(text(
            f"create table marts_build.kpi_x as select cast(i as bigint) as id, cast({value} as bigint) as v "
            f"from generate_series(1, {rows}) as g(i)"
        ))


def test_reader_never_sees_a_partial_publish(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.ensure_schemas()
    _build(wh, *OLD)
    publish(wh, ["kpi_x"])
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            with wh.engine.connect() as conn:
                while not stop.is_set():
                    n, s = conn.execute(text("select count(*), coalesce(sum(v), 0) from marts.kpi_x")).one()
                    conn.commit()  # each read is its own transaction, like a BI query
                    seen.append((int(n), int(s)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            _build(wh, *(NEW if i % 2 == 0 else OLD))
            publish(wh, ["kpi_x"])
    finally:
        stop.set()
        thread.join(timeout=30)
    wh.dispose()
    assert not errors, errors
    allowed = {(OLD[0], OLD[0] * OLD[1]), (NEW[0], NEW[0] * NEW[1])}
    assert len(seen) > 20
    assert set(seen) <= allowed, f"a reader saw a partial state: {set(seen) - allowed}"
    assert set(seen) == allowed, "the reader should have seen both states"


def test_a_changed_shape_is_replaced_in_the_same_transaction(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.ensure_schemas()
    _build(wh, *OLD)
    publish(wh, ["kpi_x"])
    with wh.engine.begin() as conn:
        conn.execute(text("drop table marts_build.kpi_x"))
        conn.execute(text("create table marts_build.kpi_x as select cast(1 as bigint) as id, 'a' as label"))
    publish(wh, ["kpi_x"])
    assert wh.fetch_all("select id, label from marts.kpi_x") == [{"id": 1, "label": "a"}]
    wh.dispose()


def test_bi_role_reads_marts_and_nothing_else(pg_url):
    wh = Warehouse(pg_url)
    wh.ensure_schemas()
    with wh.engine.begin() as conn:
        conn.execute(text("create table raw.secret (email text)"))
        conn.execute(text("insert into raw.secret values ('a@example.org')"))
    _build(wh, *OLD)
    publish(wh, ["kpi_x"])
    role = f"revops_bi_{uuid.uuid4().hex[:8]}"
    db = pg_url.split("?", 1)[0].rsplit("/", 1)[1]
    try:
        grant_bi_role(wh, role, "s3cret-pw")
        grant_bi_role(wh, role, "s3cret-pw")  # idempotent: a deploy re-applies it
        with psycopg.connect(**pg.connect_kwargs(db), user=role, password="s3cret-pw", autocommit=True) as bi:
            assert bi.execute("select count(*) from marts.kpi_x").fetchone() == (OLD[0],)
            for sql in ("select * from raw.secret", "insert into marts.kpi_x values (0, 0)",
                        "delete from marts.kpi_x", "create table marts.mine (x int)",
                        "select * from ops.runs"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bi.execute(sql)
        # a later publish that changes the mart's shape keeps it readable (default privileges)
        with wh.engine.begin() as conn:
            conn.execute(text("drop table marts_build.kpi_x"))
            conn.execute(text("create table marts_build.kpi_x as select cast(7 as bigint) as id, 'x' as label"))
        publish(wh, ["kpi_x"])
        with psycopg.connect(**pg.connect_kwargs(db), user=role, password="s3cret-pw") as bi:
            assert bi.execute("select id, label from marts.kpi_x").fetchall() == [(7, "x")]
    finally:
        with wh.engine.begin() as conn:
            conn.execute(text(f"drop owned by {role}"))
            conn.execute(text(f"drop role if exists {role}"))
        wh.dispose()


def test_bi_role_refuses_duckdb_and_bad_names(duckdb_url, pg_url):
    with pytest.raises(ValueError, match="PostgreSQL"):
        grant_bi_role(Warehouse(duckdb_url), "revops_bi", "pw")
    with pytest.raises(ValueError, match="invalid role"):
        grant_bi_role(Warehouse(pg_url), "bi; drop table x", "pw")
    with pytest.raises(ValueError, match="REVOPS_BI_PASSWORD"):
        grant_bi_role(Warehouse(pg_url), "revops_bi", "")
