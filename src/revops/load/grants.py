"""The BI role on PostgreSQL: a login that can read the published marts and nothing else.

``revops warehouse grant`` (re)applies it; safe to run on every deploy. The password comes
from ``REVOPS_BI_PASSWORD``, never from the command line.
"""

from __future__ import annotations

import re

from sqlalchemy import text

from revops.load.warehouse import PUBLISHED_SCHEMA, SCHEMAS, Warehouse

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_bi_role(wh: Warehouse, role: str, password: str) -> None:
    if wh.dialect != "postgresql":
        raise ValueError("roles exist on PostgreSQL only; a DuckDB file is shared read-only instead")
    if not _ROLE.match(role):
        raise ValueError(f"invalid role name {role!r}")
    if not password:
        raise ValueError("set REVOPS_BI_PASSWORD: the BI role logs in with it")
    with wh.engine.begin() as conn:
        exists = conn.execute(text("select 1 from pg_roles where rolname = :r"), {"r": role}).first()
        # the password goes through format(%L) server-side quoting, never into our SQL text
        verb = "alter" if exists else "create"
        stmt = conn.execute(
            text(f"select format('{verb} role {role} with login password %L "
                 "nosuperuser nocreatedb nocreaterole noinherit', cast(:pw as text))"),
            {"pw": password},
        ).scalar_one()
        conn.execute(text(stmt))
        db = conn.execute(text("select current_database()")).scalar_one()
        conn.execute(text(f'grant connect on database "{db}" to {role}'))
        conn.execute(text(f"revoke all on schema public from {role}"))
        for schema in SCHEMAS:
            conn.execute(text(f"revoke all on all tables in schema {schema} from {role}"))
            conn.execute(text(f"revoke all on schema {schema} from {role}"))
        conn.execute(text(f"grant usage on schema {PUBLISHED_SCHEMA} to {role}"))
        conn.execute(text(f"grant select on all tables in schema {PUBLISHED_SCHEMA} to {role}"))
        # marts re-created by a later publish (a changed shape) are readable too
        conn.execute(
            text(f"alter default privileges in schema {PUBLISHED_SCHEMA} grant select on tables to {role}")
        )
