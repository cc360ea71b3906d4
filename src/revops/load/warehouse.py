"""The warehouse: one SQLAlchemy URL, DuckDB (embedded, default) or PostgreSQL (production).

A batch is first compared with the stored rows (:meth:`Warehouse.compare`: only new or changed
rows are validated and written). Loading it is one transaction: merge those rows on their natural
key (DuckDB scans the Arrow table in place: delete the target's rows with the batch's keys, insert
the batch; PostgreSQL gets ``COPY`` of Arrow-encoded CSV into a temporary stage, then one upsert
on the key; rows whose keys are not stored yet are only inserted, on PostgreSQL by a ``COPY``
straight into the raw table), write the batch's suite results and quarantined rows, and write the
stream's ``ops.sync_state`` — so the data and the cursor that describes it can never disagree,
and a rerun after a crash merges into the same rows instead of duplicating them.
"""

from __future__ import annotations

import io
import json
import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, create_engine, event, text

from revops.settings import duckdb_config, postgres_connect_args

SCHEMAS = ("raw", "staging", "core", "marts", "marts_build", "ops")
#: schemas readers never see half-built: dbt writes marts into marts_build, publish swaps
PUBLISHED_SCHEMA = "marts"
BUILD_SCHEMA = "marts_build"

OPS_DDL = (
    """create table if not exists ops.sync_state (
        source varchar not null, stream varchar not null, state varchar not null,
        updated_at timestamptz not null, run_id varchar, primary key (source, stream))""",
    """create table if not exists ops.runs (
        run_id varchar primary key, flow varchar not null, started_at timestamptz not null,
        finished_at timestamptz, status varchar not null, message varchar)""",
    # who runs it: a ``running`` row whose owner is gone is told apart (``abandoned``) by the
    # next run, which holds the writer lock (revops.load.writer_lock)
    "alter table ops.runs add column if not exists host varchar",
    "alter table ops.runs add column if not exists pid integer",
    """create table if not exists ops.run_streams (
        run_id varchar not null, source varchar not null, stream varchar not null,
        rows_extracted bigint not null, rows_loaded bigint not null,
        rows_quarantined bigint not null, batches bigint not null, seconds double precision,
        state_before varchar, state_after varchar, primary key (run_id, source, stream))""",
    # rows inserted or whose content differed from what raw held (a re-read of unchanged rows
    # loads nothing): what tells a quiet night from one with news (revops.pipeline.run)
    "alter table ops.run_streams add column if not exists rows_changed bigint",
    # of ``seconds``, those spent validating the stream's raw batches (GX; its start-up, once
    # per process and thread, not counted: revops.pipeline.StreamStats), so a run says what its
    # checks cost (bench.large_bench reports the share)
    "alter table ops.run_streams add column if not exists validation_seconds double precision",
    # raw tables changed since the models last built over them: written in the same transaction
    # as the rows (Warehouse.load_batch), cleared once a build over them has published
    # (revops.pipeline.run), so a failed build or gate leaves them for the next run
    """create table if not exists ops.unbuilt_changes (
        source varchar not null, stream varchar not null, run_id varchar not null,
        changed_at timestamptz not null, primary key (source, stream))""",
    # one row: what the marts were last fully built and published from (the dbt project, its
    # vars, the mart suites; revops.transform.project_fingerprint): a run may skip or narrow the
    # build only when it is the same
    """create table if not exists ops.model_state (
        fingerprint varchar not null, run_id varchar not null, built_at timestamptz not null)""",
    """create table if not exists ops.quarantine (
        run_id varchar not null, source varchar not null, stream varchar not null,
        record_key varchar, record varchar not null, reasons varchar not null,
        quarantined_at timestamptz not null)""",
    # email pseudonyms: revops.load.pseudonymize fills it before dbt runs (the salt never
    # reaches SQL text, dbt's target files or a log)
    """create table if not exists ops.email_hashes (
        email_norm varchar primary key, email_hash varchar not null, salt_id varchar not null,
        _loaded_at timestamptz not null, _load_id varchar not null)""",
    # a backfill's finished chunks (revops.backfill): a rerun after a failure skips them
    """create table if not exists ops.backfill_chunks (
        backfill_key varchar not null, source varchar not null, since date not null,
        until date not null, run_id varchar not null, rows_loaded bigint not null,
        finished_at timestamptz not null, primary key (backfill_key, source, since))""",
    # one row per source: its last successful sync and its last attempt (revops.pipeline.run
    # writes it after extracting, before dbt builds marts.kpi_data_freshness over it).
    # status: fresh (last attempt succeeded), stale (it failed: the last good raw data serves),
    # failed (it failed and no sync ever succeeded)
    """create table if not exists ops.source_freshness (
        source varchar primary key, kind varchar not null, last_success_at timestamptz,
        last_attempt_at timestamptz not null, last_run_id varchar not null,
        rows_last_success bigint, status varchar not null, error varchar)""",
    # the headline KPIs each run reported (revops.report.summary): the next run says what moved
    """create table if not exists ops.run_headlines (
        run_id varchar primary key, recorded_at timestamptz not null, period varchar,
        kpis varchar not null)""",
    """create table if not exists ops.quality_results (
        run_id varchar not null, suite varchar not null, layer varchar not null,
        expectation_type varchar not null, kwargs varchar, success boolean not null,
        unexpected_count bigint, observed_value varchar, validated_at timestamptz not null)""",
)

_SQL_TYPES = {
    "duckdb": {"string": "varchar", "int64": "bigint", "double": "double", "bool": "boolean"},
    "postgresql": {"string": "text", "int64": "bigint", "double": "double precision", "bool": "boolean"},
}


def _type_key(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_boolean(t):
        return "bool"
    raise TypeError(f"raw columns are strings, integers, floats or booleans; got {t}")


def q(name: str) -> str:
    """Quote an identifier (names come from stream declarations, never from users)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class LoadResult:
    table: str
    rows_in: int
    rows_loaded: int  # after de-duplication within the batch
    #: of those, the rows raw lacked or held with other content (the others were left as they were)
    rows_changed: int = 0


@dataclass
class Comparison:
    """A batch compared with its raw table (:meth:`Warehouse.compare`): what loading it would
    change. The pipeline validates only ``changed`` and hands the comparison to
    :meth:`Warehouse.load_batch` with the rows that passed, so each batch is compared once."""

    #: the batch's rows (one per key, the last) that raw lacks or holds with other content, in
    #: the batch's order
    changed: pa.Table
    #: the batch's other rows (one per key): raw holds them as they are
    unchanged: int = 0
    #: of ``changed``, the rows whose key raw holds (0: loading them only inserts)
    known: int = 0
    #: False when raw lacked the table or one of the batch's columns: every row counts as
    #: changed until ``load_batch``, having created them, compares in its transaction
    complete: bool = True


def dedupe_last(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """Keep the last occurrence of each key in a batch: an upsert must see each key once."""
    if table.num_rows == 0:
        return table
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    last = indexed.group_by(list(key), use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == table.num_rows:  # every key once (the usual batch): nothing to take
        return table
    keep = pc.sort_indices(last["__row_max"])
    return table.take(pc.take(last["__row_max"], keep))


@contextmanager
def arrow_view(duck: Any, name: str, table: pa.Table) -> Iterator[str]:
    """``table`` registered as the view ``name`` on the DuckDB connection ``duck`` for the block
    (DuckDB scans it in place). A statement that fails in the block aborts DuckDB's transaction,
    and unregistering then fails too ("Current transaction is aborted"): that second error is
    dropped, so the run reports the first one (an out-of-memory, a conversion error), not the
    aborted transaction it left."""
    import duckdb

    duck.register(name, table)
    try:
        yield name
    except BaseException:
        with suppress(duckdb.Error):
            duck.unregister(name)
        raise
    duck.unregister(name)


def _set_duckdb_config(dbapi_connection: Any, _record: Any) -> None:
    for key, value in duckdb_config().items():
        quoted = value.replace("'", "''")
        dbapi_connection.execute(f"SET {key} = '{quoted}'")


class Warehouse:
    def __init__(self, url: str):
        self.url = url
        if url.startswith("duckdb:///"):
            path = url.removeprefix("duckdb:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, connect_args=postgres_connect_args(url))
        if self.engine.dialect.name == "duckdb" and duckdb_config():
            # SET on each new connection, as dbt-duckdb applies its profile's settings: a config
            # given at connect time would make every other connection to the file in this
            # process (GX's, the writer lock's) "a different configuration" DuckDB refuses
            event.listen(self.engine, "connect", _set_duckdb_config)
        #: raw table -> its columns, as this object last saw or made them (see _ensure_raw_table)
        self._raw_columns: dict[str, set[str]] = {}
        #: raw tables whose last comparison here found none of its batch's keys stored (a first
        #: night's, an append-only stream's): their next batch is looked up by key first
        #: (:meth:`_compare`)
        self._held_none: set[str] = set()
        self.dialect = self.engine.dialect.name  # "duckdb" | "postgresql"
        if self.dialect not in _SQL_TYPES:
            raise ValueError(f"unsupported warehouse {self.dialect!r}: use DuckDB or PostgreSQL")

    @property
    def duckdb_path(self) -> str | None:
        return self.url.removeprefix("duckdb:///") if self.dialect == "duckdb" else None

    def dispose(self) -> None:
        """Close every pooled connection (DuckDB: lets dbt, another writer, open the file)."""
        self.engine.dispose()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    # ------------------------------------------------------------------ setup
    def ensure_schemas(self) -> None:
        with self.engine.begin() as conn:
            for schema in SCHEMAS:
                conn.execute(text(f"create schema if not exists {schema}"))
            for ddl in OPS_DDL:
                conn.execute(text(ddl))

    def columns(self, conn: Connection, schema: str, table: str) -> list[str]:
        rows = conn.execute(
            text(
                "select column_name from information_schema.columns "
                "where table_schema = :s and table_name = :t order by ordinal_position"
            ),
            {"s": schema, "t": table},
        )
        return [r[0] for r in rows]

    def tables(self, schema: str) -> list[str]:
        """The tables (not views) of ``schema``, by name."""
        rows = self.fetch_all(
            "select table_name from information_schema.tables where table_schema = :s "
            "and table_type in ('BASE TABLE') order by table_name",
            s=schema,
        )
        return [r["table_name"] for r in rows]

    def table_exists(self, schema: str, table: str) -> bool:
        with self.engine.connect() as conn:
            return bool(self.columns(conn, schema, table))

    def ensure_stream_table(self, stream) -> None:
        """Create ``raw.<source>__<stream>`` from the stream's declared schema if missing."""
        try:
            with self.engine.begin() as conn:
                self._ensure_raw_table(conn, stream.table, stream.schema, stream.primary_key)
        except BaseException:
            self._raw_columns.pop(stream.table, None)
            raise

    # ------------------------------------------------------------------ state
    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("select state from ops.sync_state where source = :s and stream = :t"),
                {"s": source, "t": stream},
            ).first()
        return json.loads(row[0]) if row else None

    def _put_state(self, conn: Connection, source: str, stream: str, state: dict, run_id: str) -> None:
        conn.execute(
            text(
                "insert into ops.sync_state (source, stream, state, updated_at, run_id) "
                "values (:s, :t, :state, :now, :run) on conflict (source, stream) do update "
                "set state = excluded.state, updated_at = excluded.updated_at, run_id = excluded.run_id"
            ),
            {
                "s": source,
                "t": stream,
                "state": json.dumps(state, sort_keys=True),
                "now": datetime.now(UTC),
                "run": run_id,
            },
        )

    # ------------------------------------------------------------------ load
    def load_batch(
        self,
        *,
        source: str,
        stream: str,
        table: pa.Table,
        primary_key: Sequence[str],
        state: dict[str, Any] | None,
        run_id: str,
        quality: list[dict[str, Any]] | None = None,
        quarantined: Sequence[tuple[str | None, dict[str, Any], list[str]]] = (),
        compared: Comparison | None = None,
    ) -> LoadResult:
        """Merge ``table`` into ``raw.<source>__<stream>`` on ``primary_key`` and save ``state``,
        atomically. Only rows that are new or whose content differs from the stored row are
        written (:meth:`compare`); when there are any, ``ops.unbuilt_changes`` marks the
        stream in the same transaction. ``quality`` (the batch's raw suite results, see :meth:`record_quality`) and
        ``quarantined`` (its rejected rows, see :meth:`quarantine`) are written in the same
        transaction: one round of bookkeeping per batch, and a batch that fails to load leaves
        no results or quarantine rows behind for its rerun to repeat.

        ``compared``: the comparison ``table`` comes from (``table`` is its ``changed`` rows, or
        those of them that passed validation), made with no write to the raw table since (one
        writer: ``revops.load.writer_lock``). The rows are then merged as they are, not
        deduplicated and compared again; only a comparison that found the table or a column
        missing is redone here, once they exist."""
        name = f"{source}__{stream}"
        batch = table if compared is not None else dedupe_last(table, primary_key)
        changes = Comparison(batch)
        try:
            with self.engine.begin() as conn:
                if quality:
                    self._insert_quality(conn, run_id, "raw", quality)
                if quarantined:
                    self._insert_quarantine(conn, run_id, source, stream, quarantined)
                if batch.num_rows:
                    created = self._ensure_raw_table(conn, name, batch.schema, primary_key)
                    if compared is not None and compared.complete:
                        changes = Comparison(batch, known=compared.known)
                    elif not created:  # a table just created holds nothing to compare with
                        changes = self._compare(conn, name, batch, primary_key)
                if changes.changed.num_rows:
                    self._merge(conn, name, changes, primary_key, run_id)
                    self.mark_unbuilt(conn, source, stream, run_id)
                if state is not None:
                    self._put_state(conn, source, stream, state, run_id)
        except BaseException:
            self._raw_columns.pop(name, None)  # a rolled-back create or alter did not happen
            raise
        return LoadResult(name, table.num_rows, batch.num_rows, changes.changed.num_rows)

    def compare(self, name: str, table: pa.Table, primary_key: Sequence[str]) -> Comparison:
        """``table`` (one row per key, the last) against ``raw.<name>``: the rows it lacks or
        holds with other content, in their order, and how many it holds as they are. A re-read
        of rows the warehouse already has changes none (the pipeline then validates and loads
        nothing)."""
        batch = dedupe_last(table, primary_key)
        if not batch.num_rows:
            return Comparison(batch)
        with self.engine.begin() as conn:
            known = self._raw_columns.get(name)
            if known is None or not set(batch.schema.names) <= known:
                known = set(self.columns(conn, "raw", name))
                if not known or not set(batch.schema.names) <= known:
                    # a new table or a new column: every row brings something
                    return Comparison(batch, known=batch.num_rows, complete=False)
                self._raw_columns[name] = known
            return self._compare(conn, name, batch, primary_key)

    def _compare(self, conn: Connection, name: str, batch: pa.Table,
                 primary_key: Sequence[str]) -> Comparison:
        """:meth:`compare` inside a transaction whose raw table has every column of ``batch``
        (one row per key). One left join on the key, by every column: a stored column the batch
        lacks counts as a change unless it is NULL (a merge replaces the whole row, so it would
        become NULL). On DuckDB, after a batch none of whose keys were stored, the keys are
        looked up first and a batch of new keys only skips the join."""
        given = batch.schema.names
        absent = sorted(self._raw_columns.get(name, set()) - set(given) - {"_loaded_at", "_load_id"})
        same = [f"v.{q(c)} is not distinct from r.{q(c)}" for c in given if c not in primary_key]
        same += [f"r.{q(c)} is null" for c in absent]
        on = " and ".join(f"r.{q(k)} = v.{q(k)}" for k in primary_key)
        numbered = batch.append_column("__row", pa.array(range(batch.num_rows), pa.int64()))
        view = f"_batch_{uuid.uuid4().hex[:12]}"
        # the changed rows' positions, and whether raw holds their key
        select = (f"select v.__row, r.{q(primary_key[0])} is not null as known from {q(view)} v "
                  f"left join raw.{q(name)} r on {on} where r.{q(primary_key[0])} is null"
                  + (f" or not ({' and '.join(same)})" if same else "") + " order by 1")
        if self.dialect == "duckdb":
            # DuckDB scans the Arrow table in place; the answer comes back as arrays, not rows
            duck = conn.connection.driver_connection
            with arrow_view(duck, view, numbered):
                # DuckDB's join uses no index: it reads every column of every stored row, so on a
                # first night each batch cost a scan of the whole table so far, and kept its
                # blocks cached. Where the last batch found none of its keys stored, whether raw
                # holds any of this one's is asked first, of the key columns only; a re-read (its
                # keys stored) goes straight to the join (bench/README.md, "the session of
                # 2026-12-07 07:47-10:47")
                held = f"select count(*) from raw.{q(name)} r semi join {q(view)} v on {on}"
                if name in self._held_none and not duck.execute(held).fetchall()[0][0]:
                    return Comparison(batch)
                found = duck.execute(select).fetchnumpy()
            rows, known = found["__row"], int(found["known"].sum())
            if not known and len(rows) == batch.num_rows:  # no key stored, changed or not
                self._held_none.add(name)
            else:
                self._held_none.discard(name)
        else:
            # the batch as the merge would store it (the same CSV COPY into the raw types), then
            # one index lookup per row: PostgreSQL's own plan at a few hundred thousand stored
            # rows hashes the whole raw table for every batch (2-6x slower, and growing with it)
            cols = ", ".join(q(c) for c in given)
            conn.execute(text(f"create temp table {q(view)} on commit drop as select {cols}, "
                              f"0::bigint as __row from raw.{q(name)} where false"))
            self._copy_csv(conn, q(view), numbered)
            with conn.connection.driver_connection.cursor() as cur:
                cur.execute("set local enable_hashjoin = off; set local enable_mergejoin = off")
                found = cur.execute(select).fetchall()
                cur.execute("reset enable_hashjoin; reset enable_mergejoin")
            rows, known = [r[0] for r in found], sum(1 for r in found if r[1])
        changed = batch if len(rows) == batch.num_rows else batch.take(pa.array(rows, pa.int64()))
        return Comparison(changed, batch.num_rows - len(rows), known)

    def mark_unbuilt(self, conn: Connection, source: str, stream: str, run_id: str) -> None:
        """Note in ``conn``'s transaction that ``source.stream``'s raw table changed: the next
        run builds what reads it. ``load_batch`` does it for every change it writes; an edit of
        a raw table by hand must do it too (or the next run takes the raw data for unchanged)."""
        conn.execute(text("insert into ops.unbuilt_changes (source, stream, run_id, changed_at) "
                          "values (:s, :t, :r, :now) on conflict (source, stream) do update "
                          "set run_id = excluded.run_id, changed_at = excluded.changed_at"),
                     {"s": source, "t": stream, "r": run_id, "now": datetime.now(UTC)})

    def unbuilt_changes(self) -> list[tuple[str, str]]:
        """``(source, stream)`` of the raw tables changed since a build over them published."""
        return [(r["source"], r["stream"]) for r in self.fetch_all(
            "select source, stream from ops.unbuilt_changes order by 1, 2")]

    def clear_unbuilt(self, streams: Iterable[tuple[str, str]] | None = None) -> None:
        """Forget the changes a published build covered (``None``: all of them)."""
        with self.engine.begin() as conn:
            if streams is None:
                conn.execute(text("delete from ops.unbuilt_changes"))
                return
            for source, stream in streams:
                conn.execute(text("delete from ops.unbuilt_changes where source = :s and stream = :t"),
                             {"s": source, "t": stream})

    def analyze(self, tables: Iterable[tuple[str, str]]) -> list[str]:
        """PostgreSQL: refresh the planner's statistics of ``(schema, table)``s a bulk load just
        changed, before dbt reads them (PostgreSQL's "Populating a Database: Run ANALYZE
        Afterwards"; autovacuum gets to a table some time later, or never where it is off).
        Without them it guesses rows from the table's size: 23M for HubSpot's engagements
        against 170k, 11M for the merge walk against 8k at a fifth of the large world. ANALYZE
        samples a bounded number of rows per table, whatever its size. DuckDB keeps its
        statistics as it writes: nothing to do. Returns the tables analyzed."""
        if self.dialect != "postgresql":
            return []
        names = [f"{q(schema)}.{q(table)}" for schema, table in tables if self.table_exists(schema, table)]
        if names:
            with self.engine.begin() as conn:
                conn.execute(text("analyze " + ", ".join(names)))
        return names

    def model_fingerprint(self) -> str | None:
        """What the marts were last fully built and published from (``ops.model_state``)."""
        return self.scalar("select fingerprint from ops.model_state")

    def set_model_fingerprint(self, fingerprint: str, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("delete from ops.model_state"))
            conn.execute(text("insert into ops.model_state (fingerprint, run_id, built_at) "
                              "values (:f, :r, :now)"),
                         {"f": fingerprint, "r": run_id, "now": datetime.now(UTC)})

    def _merge(self, conn: Connection, name: str, changes: Comparison,
               primary_key: Sequence[str], run_id: str) -> None:
        """Write ``changes.changed`` into ``raw.<name>``, each row replacing the row its key had
        whole (a column the batch lacks becomes NULL). Rows whose keys raw lacks (``known`` 0,
        the usual first load) are only inserted: DuckDB from the Arrow table, PostgreSQL by a
        COPY straight into the raw table."""
        batch = changes.changed
        if self.dialect == "duckdb":
            self._merge_arrow_duckdb(conn, f"raw.{q(name)}", batch, primary_key, run_id,
                                     replace=changes.known > 0)
        elif changes.known:
            self._merge_stage_postgres(conn, name, batch, primary_key, run_id)
        else:
            self._copy_csv(conn, f"raw.{q(name)}", _with_load_columns(batch, run_id))

    def _merge_stage_postgres(self, conn: Connection, name: str, batch: pa.Table,
                              primary_key: Sequence[str], run_id: str) -> None:
        """COPY into a stage, then one upsert on the primary key's index. The row a key had is
        replaced whole: a column this batch lacks becomes NULL, as a delete + insert would leave
        it (a delete ``where key in (select ...)`` scanned the whole table for every batch)."""
        stage = f"_stage_{uuid.uuid4().hex[:12]}"
        self._stage(conn, stage, f"raw.{q(name)}", batch, run_id)
        given = [*batch.schema.names, "_loaded_at", "_load_id"]
        absent = sorted(self._raw_columns[name] - set(given))
        sets = [f"{q(c)} = excluded.{q(c)}" for c in given if c not in primary_key]
        sets += [f"{q(c)} = null" for c in absent]
        cols = ", ".join(q(c) for c in given)
        conn.execute(text(
            f"insert into raw.{q(name)} ({cols}) select {cols} from {q(stage)} "
            f"on conflict ({', '.join(q(k) for k in primary_key)}) do update set {', '.join(sets)}"))
        conn.execute(text(f"drop table {q(stage)}"))

    def _merge_arrow_duckdb(self, conn: Connection, target: str, batch: pa.Table,
                            primary_key: Sequence[str], run_id: str, replace: bool = True) -> None:
        """DuckDB scans the Arrow table in place: the merge reads it twice (the keys to delete,
        unless ``replace`` is off because none is stored, then the rows to insert) with no stage
        table copied in between."""
        view = f"_arrow_{uuid.uuid4().hex[:12]}"
        with arrow_view(conn.connection.driver_connection, view, batch):
            key = ", ".join(q(k) for k in primary_key)
            if replace:
                conn.execute(text(f"delete from {target} where ({key}) in (select {key} from {q(view)})"))
            names = ", ".join(q(c) for c in batch.schema.names)
            conn.execute(
                text(f"insert into {target} ({names}, _loaded_at, _load_id) select {names}, "
                     f"cast(:now as timestamptz), cast(:run as varchar) from {q(view)}"),
                {"now": datetime.now(UTC), "run": run_id},
            )

    def _ensure_raw_table(
        self, conn: Connection, name: str, schema: pa.Schema, primary_key: Sequence[str]
    ) -> bool:
        """Create the raw table, or add the columns it lacks; True when it was created."""
        types = _SQL_TYPES[self.dialect]
        # a table already seen with every column of this batch needs no catalog query (one per
        # batch otherwise); a new column, or a table not seen yet, is looked up
        known = self._raw_columns.get(name)
        if known is not None and all(f.name in known for f in schema):
            return False
        existing = self.columns(conn, "raw", name)
        self._raw_columns[name] = set(existing) | set(schema.names)
        if not existing:
            cols = [f"{q(f.name)} {types[_type_key(f.type)]}" for f in schema]
            cols += ["_loaded_at timestamptz not null", "_load_id varchar not null"]
            pk = ", ".join(q(k) for k in primary_key)
            conn.execute(text(f"create table raw.{q(name)} ({', '.join(cols)}, primary key ({pk}))"))
            return True
        for f in schema:  # schema drift: a new field is added, never silently dropped
            if f.name not in existing:
                conn.execute(
                    text(f"alter table raw.{q(name)} add column {q(f.name)} {types[_type_key(f.type)]}")
                )
        return False

    def insert_arrow(self, conn: Connection, target: str, batch: pa.Table, run_id: str) -> None:
        """Bulk-insert ``batch`` (plus ``_loaded_at``/``_load_id``) into ``target``
        (``schema.table``, quoted as needed), the same Arrow/COPY path raw loads take."""
        stage = f"_stage_{uuid.uuid4().hex[:12]}"
        self._stage(conn, stage, target, batch, run_id)
        cols = ", ".join(q(c) for c in [*batch.schema.names, "_loaded_at", "_load_id"])
        conn.execute(text(f"insert into {target} ({cols}) select {cols} from {q(stage)}"))
        conn.execute(text(f"drop table {q(stage)}"))

    def _stage(self, conn: Connection, stage: str, like: str, batch: pa.Table, run_id: str) -> None:
        now = datetime.now(UTC)
        if self.dialect == "duckdb":
            view = f"{stage}_arrow"
            with arrow_view(conn.connection.driver_connection, view, batch):
                conn.execute(
                    text(
                        f"create temp table {q(stage)} as select *, "
                        f"cast(:now as timestamptz) as _loaded_at, cast(:run as varchar) as _load_id "
                        f"from {q(view)}"
                    ),
                    {"now": now, "run": run_id},
                )
            return
        # PostgreSQL: COPY into a temp table shaped like the target
        conn.execute(
            text(f"create temp table {q(stage)} (like {like} including defaults) on commit drop")
        )
        self._copy_csv(conn, q(stage), _with_load_columns(batch, run_id, now))

    def _copy_csv(self, conn: Connection, target: str, table: pa.Table) -> None:
        """PostgreSQL: ``COPY`` ``table`` into ``target``'s columns of the same names. Arrow's C++
        CSV writer encodes it (NULL = empty unquoted field, '' = ""), so no Python loop per row."""
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        cols = ", ".join(q(c) for c in table.schema.names)
        pg = conn.connection.driver_connection
        with pg.cursor() as cur, cur.copy(f"copy {target} ({cols}) from stdin (format csv)") as copy:
            view = buf.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])
            view.release()

    # ------------------------------------------------------------------ ops bookkeeping
    def start_run(self, flow: str, run_id: str | None = None) -> str:
        run_id = run_id or uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "insert into ops.runs (run_id, flow, started_at, status, host, pid) "
                    "values (:r, :f, :now, 'running', :host, :pid)"
                ),
                {"r": run_id, "f": flow, "now": datetime.now(UTC), "host": socket.gethostname(),
                 "pid": os.getpid()},
            )
        return run_id

    def abandon_stale_runs(self, by_run_id: str) -> list[dict[str, Any]]:
        """Mark every ``running`` row ``abandoned``. Only the holder of the writer lock may call
        this: every live run holds that lock, so any other ``running`` row's owner is gone
        (killed, or its machine died). Returns the rows it marked."""
        with self.engine.begin() as conn:
            rows = [dict(r._mapping) for r in conn.execute(text(
                "select run_id, started_at, host, pid from ops.runs "
                "where status = 'running' and run_id <> :me"), {"me": by_run_id})]
            for r in rows:
                conn.execute(
                    text("update ops.runs set status = 'abandoned', finished_at = :now, message = :m "
                         "where run_id = :r"),
                    {"now": datetime.now(UTC), "r": r["run_id"],
                     "m": f"owner gone (host {r['host']}, pid {r['pid']}): its writer lock was free "
                          f"when run {by_run_id} started"},
                )
        return rows

    def finish_run(self, run_id: str, status: str, message: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "update ops.runs set finished_at = :now, status = :st, message = :m "
                    "where run_id = :r"
                ),
                {"now": datetime.now(UTC), "st": status, "m": message, "r": run_id},
            )

    def record_freshness(self, run_id: str, source: str, kind: str, *, rows: int | None = None,
                         error: str | None = None, at: datetime | None = None) -> str:
        """One attempt of ``source`` in ``run_id``: a success (``error`` None) sets its last
        success; a failure keeps the last success (``stale``), or ``failed`` if it never had
        one. Returns the status written."""
        at = at or datetime.now(UTC)
        with self.engine.begin() as conn:
            prev = conn.execute(
                text("select last_success_at, rows_last_success from ops.source_freshness "
                     "where source = :s"), {"s": source}).first()
            if error is None:
                status, last_success, last_rows = "fresh", at, rows
            else:
                last_success = prev[0] if prev else None
                last_rows = prev[1] if prev else None
                status = "stale" if last_success is not None else "failed"
            conn.execute(text("delete from ops.source_freshness where source = :s"), {"s": source})
            conn.execute(
                text("insert into ops.source_freshness (source, kind, last_success_at, "
                     "last_attempt_at, last_run_id, rows_last_success, status, error) "
                     "values (:s, :k, :ls, :la, :r, :n, :st, :e)"),
                {"s": source, "k": kind, "ls": last_success, "la": at, "r": run_id, "n": last_rows,
                 "st": status, "e": error[:4000] if error else None},
            )
        return status

    def record_stream(self, run_id: str, source: str, stream: str, **stats: Any) -> None:
        row = {
            "run_id": run_id,
            "source": source,
            "stream": stream,
            "rows_extracted": stats.get("rows_extracted", 0),
            "rows_loaded": stats.get("rows_loaded", 0),
            "rows_changed": stats.get("rows_changed"),
            "rows_quarantined": stats.get("rows_quarantined", 0),
            "batches": stats.get("batches", 0),
            "seconds": stats.get("seconds"),
            "validation_seconds": stats.get("validation_seconds"),
            "state_before": _json_or_none(stats.get("state_before")),
            "state_after": _json_or_none(stats.get("state_after")),
        }
        with self.engine.begin() as conn:
            conn.execute(
                text("delete from ops.run_streams where run_id=:run_id and source=:source and stream=:stream"),
                row,
            )
            conn.execute(
                text(
                    "insert into ops.run_streams (run_id, source, stream, rows_extracted, rows_loaded,"
                    " rows_changed, rows_quarantined, batches, seconds, validation_seconds, state_before,"
                    " state_after) values (:run_id, :source, :stream, :rows_extracted, :rows_loaded,"
                    " :rows_changed, :rows_quarantined, :batches, :seconds, :validation_seconds,"
                    " :state_before, :state_after)"
                ),
                row,
            )

    def quarantine(
        self,
        run_id: str,
        source: str,
        stream: str,
        rows: Iterable[tuple[str | None, dict[str, Any], list[str]]],
    ) -> int:
        """Keep each rejected record whole with the reasons it failed; returns the count."""
        rows = list(rows)
        if rows:
            with self.engine.begin() as conn:
                self._insert_quarantine(conn, run_id, source, stream, rows)
        return len(rows)

    def _insert_quarantine(self, conn: Connection, run_id: str, source: str, stream: str,
                           rows: Iterable[tuple[str | None, dict[str, Any], list[str]]]) -> None:
        now = datetime.now(UTC)
        params = [
            {
                "run": run_id,
                "src": source,
                "st": stream,
                "key": key,
                "rec": json.dumps(record, default=str, sort_keys=True),
                "why": "; ".join(reasons),
                "now": now,
            }
            for key, record, reasons in rows
        ]
        conn.execute(
            text(
                "insert into ops.quarantine (run_id, source, stream, record_key, record,"
                " reasons, quarantined_at) values (:run, :src, :st, :key, :rec, :why, :now)"
            ),
            params,
        )

    def record_quality(self, run_id: str, layer: str, records: list[dict[str, Any]]) -> None:
        if records:
            with self.engine.begin() as conn:
                self._insert_quality(conn, run_id, layer, records)

    def _insert_quality(self, conn: Connection, run_id: str, layer: str,
                        records: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        params = [
            {
                "run": run_id,
                "suite": r["suite"],
                "layer": layer,
                "et": r["expectation_type"],
                "kw": r.get("kwargs"),
                "ok": bool(r["success"]),
                "n": r.get("unexpected_count"),
                "obs": r.get("observed_value"),
                "now": now,
            }
            for r in records
        ]
        conn.execute(
            text(
                "insert into ops.quality_results (run_id, suite, layer, expectation_type,"
                " kwargs, success, unexpected_count, observed_value, validated_at) values"
                " (:run, :suite, :layer, :et, :kw, :ok, :n, :obs, :now)"
            ),
            params,
        )

    def fetch_all(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


def _with_load_columns(batch: pa.Table, run_id: str, now: datetime | None = None) -> pa.Table:
    """``batch`` with ``_loaded_at`` (ISO text, parsed by the COPY) and ``_load_id`` appended."""
    n = batch.num_rows
    at = (now or datetime.now(UTC)).isoformat()
    return batch.append_column("_loaded_at", pa.array([at] * n, pa.string())).append_column(
        "_load_id", pa.array([run_id] * n, pa.string()))


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)
