"""One writer at a time: a warehouse-wide lock a run holds from before its ``ops.runs`` row until
its end.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held by a connection of
  its own for the whole run; the server frees it the moment that session ends, a killed process
  included. The holder is found by the connection's ``application_name``.
* DuckDB: ``fcntl.flock`` on ``<database file>.revops-lock`` beside the file; the kernel frees it
  when the process dies. The holder writes who it is into the file (a second process cannot open
  the DuckDB file while the holder has it open, so ``ops.runs`` is no place to look).

A second run does not wait: it fails at once with :class:`WarehouseBusy` naming the holder. Since
every live writer holds the lock, a ``running`` row found by the run that got the lock belongs
to a process that is gone (see ``Warehouse.abandon_stale_runs``).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

#: the advisory lock's key ("revops" in ASCII): one per database
PG_LOCK_KEY = 0x7265766F7073
_APP_PREFIX = "revops-writer "


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse's writer lock."""

    def __init__(self, holder: Holder | None):
        self.holder = holder
        who = holder.describe() if holder else "unknown holder"
        super().__init__(f"another run ({who}) is writing this warehouse")


@dataclass
class Holder:
    run_id: str
    started_at: str
    host: str
    pid: int

    @classmethod
    def me(cls, run_id: str) -> Holder:
        return cls(run_id, datetime.now(UTC).isoformat(timespec="seconds"), socket.gethostname(), os.getpid())

    def describe(self) -> str:
        return f"{self.run_id}, started {self.started_at}, host {self.host}, pid {self.pid}"


def lock_file_for(duckdb_path: str) -> Path:
    return Path(f"{duckdb_path}.revops-lock")


class WriterLock:
    """``with WriterLock(url, run_id):`` holds the lock or raises :class:`WarehouseBusy`."""

    def __init__(self, url: str, run_id: str):
        self.url = url
        self.holder = Holder.me(run_id)
        self._fd: int | None = None
        self._conn = None
        self._engine = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        u = make_url(self.url)
        if u.drivername.startswith("duckdb"):
            if u.database and u.database != ":memory:":
                self._acquire_file(lock_file_for(u.database))
        elif u.drivername.startswith("postgresql"):
            self._acquire_pg()
        else:
            raise ValueError(f"unsupported warehouse {u.drivername!r}: use DuckDB or PostgreSQL")

    def _acquire_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WarehouseBusy(_read_holder(path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.holder)).encode(), 0)
        self._fd = fd

    def _acquire_pg(self) -> None:
        self._engine = create_engine(self.url, poolclass=NullPool)
        conn = self._engine.connect()
        try:
            conn.execute(text("select set_config('application_name', :n, false)"),
                         {"n": _APP_PREFIX + self.holder.run_id})
            got = conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar()
            conn.commit()
            if not got:
                raise WarehouseBusy(_pg_holder(conn))
        except BaseException:
            conn.close()
            self._engine.dispose()
            self._engine = None
            raise
        self._conn = conn

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(text("select pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                self._conn.commit()
            finally:  # closing the session frees the lock in any case
                self._conn.close()
                self._engine.dispose()
                self._conn = self._engine = None


def _read_holder(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # the holder is between taking the lock and writing its name


def _pg_holder(conn) -> Holder | None:
    """The run whose lock connection holds the advisory lock, from its ``ops.runs`` row when it
    has written it, else what the server knows of its session."""
    row = conn.execute(text(
        "select a.application_name, a.backend_start, a.client_addr::text as addr from pg_locks l "
        "join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and l.granted "
        "and l.database = (select oid from pg_database where datname = current_database()) "
        "and a.application_name like :p"), {"p": _APP_PREFIX + "%"}).first()
    if row is None:
        return None
    run_id = row.application_name.removeprefix(_APP_PREFIX)
    try:
        run = conn.execute(text("select started_at, host, pid from ops.runs where run_id = :r"),
                           {"r": run_id}).first()
    except Exception:  # noqa: BLE001 - no ops.runs yet: the session's own facts will do
        conn.rollback()
        run = None
    if run is not None and run.host is not None:
        return Holder(run_id, run.started_at.isoformat(timespec="seconds"), run.host, run.pid)
    return Holder(run_id, row.backend_start.isoformat(timespec="seconds"), row.addr or "local socket", 0)
