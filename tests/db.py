"""Small helpers the warehouse tests share: read rows over a fresh engine, and compare datetimes
at the CRM's precision."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, text


def rows(url: str, sql: str) -> list[dict]:
    """Every row of ``sql`` as dicts, over an engine opened and closed for it (DuckDB: one
    writer at a time, so no connection is left open)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def ms(dt: datetime) -> datetime:
    """A datetime at the CRMs' precision: UTC, milliseconds."""
    return dt.astimezone(UTC).replace(microsecond=dt.microsecond // 1000 * 1000)


def utc(value: datetime) -> datetime:
    """A datetime read back from either engine, as aware UTC."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
