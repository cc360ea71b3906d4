"""``core.dim_company`` for a company on Salesforce, both engines: one sync of the org, then
``dbt build`` of ``+dim_company``. Each Account (created at lead conversion, one per converted
lead, never deleted with its person) is one row; ``is_customer`` once the person's deal is won.
The truth is computed from the world, not through the sandbox.

Real HTTP to the sandbox, real DuckDB/PostgreSQL, real dbt."""

from __future__ import annotations

import pytest

from datetime import datetime


from revops import pipeline
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.transform import build
from tests.db import ms, rows as _rows, utc
from revops.sandbox.registry import get_sandbox

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("salesforce")

TOKEN = "refresh-token-for-companies-7a41"
WORLD = World(WorldConfig(days=23))


def world_accounts(world: World, as_of: datetime) -> dict[str, dict]:
    """Account Id (``001`` + the world contact id, 15 digits) -> created_at (the lead's
    conversion, before the person was merged away or deleted) and is_customer."""
    out = {}
    for c in world.contacts:
        gone = min((t for t in (c.merged_at, c.deleted_at) if t and t <= as_of), default=as_of)
        sql_at = c.stage_at.get("sql")
        if c.created_at > as_of or sql_at is None or sql_at > gone:
            continue
        customer = c.stage_at.get("customer")
        out["001" + str(c.contact_id).zfill(15)] = {
            "created_at": sql_at,
            "is_customer": customer is not None and customer <= as_of,
        }
    return out


def test_dim_company_holds_the_orgs_accounts(warehouse_url, tmp_path) -> None:
    app = SANDBOX.app(WORLD, token=TOKEN, as_of=WORLD.now)
    with SandboxServer(app) as server:
        settings = settings_from_env(
            SANDBOX.env(server.url, TOKEN, WORLD),
            warehouse_url=warehouse_url,
            data_dir=str(tmp_path / "data"),
            http_max_backoff_seconds=0.02,
        )
        wh, run_id = pipeline.prepare(settings, "test")
        result = pipeline.sync_source(settings, wh, run_id, "salesforce")
        wh.dispose()
    assert all(s.rows_quarantined == 0 for s in result.streams)
    build(settings, select="+dim_company")

    want = world_accounts(WORLD, WORLD.now)
    core = _rows(warehouse_url, "select * from core.dim_company")
    got = {(r["crm"], r["company_id"]): r for r in core}
    assert len(got) == len(core)
    assert set(got) == {("salesforce", a) for a in want}
    for account, w in want.items():
        r = got[("salesforce", account)]
        assert r["is_customer"] is w["is_customer"], account
        assert utc(r["created_at"]) == ms(w["created_at"]), account
        assert r["company_name"] == "[not provided]" and r["domain"] is None
    assert {r["is_customer"] for r in core} == {True, False}
