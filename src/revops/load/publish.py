"""Publish the marts: copy what dbt built in ``marts_build`` into ``marts`` in ONE transaction.

Readers (BI tools) only ever query ``marts``. Both engines are MVCC: a reader that started
before the commit keeps seeing yesterday's rows, one that starts after sees today's; nobody
sees an empty or half-filled table. When a mart's columns are unchanged the swap is
delete + insert (no DDL, so no lock that would make readers wait); a changed shape is
dropped and recreated inside the same transaction. On PostgreSQL the table and column
comments dbt wrote (``persist_docs``) are carried over.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from revops.load.warehouse import BUILD_SCHEMA, PUBLISHED_SCHEMA, Warehouse, q


def built_marts(wh: Warehouse) -> list[str]:
    return wh.tables(BUILD_SCHEMA)


def publish(wh: Warehouse, tables: list[str] | None = None) -> list[str]:
    tables = built_marts(wh) if tables is None else tables
    if not tables:
        raise RuntimeError(f"nothing to publish: no tables in {BUILD_SCHEMA}")
    with wh.engine.begin() as conn:
        for table in tables:
            _swap(wh, conn, table)
    return tables


def _swap(wh: Warehouse, conn: Connection, table: str) -> None:
    build_cols = wh.columns(conn, BUILD_SCHEMA, table)
    live_cols = wh.columns(conn, PUBLISHED_SCHEMA, table)
    src = f"{BUILD_SCHEMA}.{q(table)}"
    dst = f"{PUBLISHED_SCHEMA}.{q(table)}"
    if build_cols == live_cols:
        cols = ", ".join(q(c) for c in build_cols)
        conn.execute(text(f"delete from {dst}"))
        conn.execute(text(f"insert into {dst} ({cols}) select {cols} from {src}"))
    else:
        conn.execute(text(f"drop table if exists {dst}"))
        conn.execute(text(f"create table {dst} as select * from {src}"))
    if wh.dialect == "postgresql":
        _copy_comments(conn, table)


def _copy_comments(conn: Connection, table: str) -> None:
    src = f"{BUILD_SCHEMA}.{q(table)}"
    dst = f"{PUBLISHED_SCHEMA}.{q(table)}"
    comment = conn.execute(text("select obj_description(cast(:t as regclass), 'pg_class')"), {"t": src}).scalar()
    if comment:
        conn.execute(text(f"comment on table {dst} is {_literal(comment)}"))
    cols = conn.execute(
        text(
            "select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a "
            "where a.attrelid = cast(:t as regclass) and a.attnum > 0 and not a.attisdropped"
        ),
        {"t": src},
    ).all()
    for name, desc in cols:
        if desc:
            conn.execute(text(f"comment on column {dst}.{q(name)} is {_literal(desc)}"))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
