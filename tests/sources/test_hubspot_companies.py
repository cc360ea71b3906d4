"""HubSpot companies through the warehouse on both engines: two nightly syncs of a small world
(a company's person is merged, and companies are created, between them), then ``dbt build`` of
``stg_hubspot__companies`` and ``core.dim_company`` with their ancestors. The core table equals
the world's companies; staging resolves the primary contact to the person's id now.

Real HTTP to the sandbox, real DuckDB/PostgreSQL, real dbt."""

from __future__ import annotations

import pytest

from datetime import timedelta


from revops import pipeline
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.transform import build
from tests.sources.hubspot_ids import COMPANY_ID_BASE, MERGED_ID_BASE, world_companies
from tests.db import ms, rows as _rows, utc
from revops.sandbox.registry import get_sandbox

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("hubspot")

TOKEN = "pat-na1-companies-5c1d"
WORLD = World(WorldConfig(days=23))
#: a company whose person is merged after the company is created; the first run falls between
MERGED_BUYER, MERGED_AT = next(
    (c, WORLD.contact_by_id[dup].merged_at)
    for c in WORLD.contacts for dup in c.absorbed
    for d in WORLD.deals if d.contact_id == c.contact_id
    and d.created_at < WORLD.contact_by_id[dup].merged_at <= WORLD.now
)
FIRST = MERGED_AT - timedelta(hours=1)
#: a buyer deleted between the runs (the world never deletes one; HubSpot can): its company
#: goes to the recycle bin with it (set before anything reads the world's activities)
GONE_BUYER = next(
    WORLD.contact_by_id[d.contact_id] for d in WORLD.deals
    if d.created_at < FIRST and d.contact_id != MERGED_BUYER.contact_id
    and not WORLD.contact_by_id[d.contact_id].absorbed
)
GONE_BUYER.deleted_at = FIRST + timedelta(days=1)


def test_dim_company_equals_the_worlds_companies(warehouse_url, tmp_path) -> None:
    app = SANDBOX.app(WORLD, token=TOKEN, as_of=FIRST)
    with SandboxServer(app) as server:
        settings = settings_from_env(
            SANDBOX.env(server.url, TOKEN, WORLD),
            warehouse_url=warehouse_url,
            data_dir=str(tmp_path / "data"),
            http_max_backoff_seconds=0.02,
        )
        for clock in (FIRST, WORLD.now):
            app.as_of = clock
            wh, run_id = pipeline.prepare(settings, "test")
            result = pipeline.sync_source(settings, wh, run_id, "hubspot")
            wh.dispose()
            assert all(s.rows_quarantined == 0 for s in result.streams)
    build(settings, select="+dim_company")

    want = world_companies(WORLD, WORLD.now)
    before = world_companies(WORLD, FIRST)
    assert set(want) - set(before), "the second run must add companies"

    # staging: one row per company; the primary contact is the person's id now
    staged = {r["company_id"]: r for r in _rows(
        warehouse_url, "select * from staging.stg_hubspot__companies")}
    gone = str(COMPANY_ID_BASE + GONE_BUYER.contact_id)
    assert gone in before and gone not in want
    assert set(staged) == set(want) | {gone}
    assert staged[gone]["is_archived"] is True
    assert utc(staged[gone]["archived_at"]) == ms(GONE_BUYER.deleted_at)
    for cid, w in want.items():
        r = staged[cid]
        assert (r["company_name"], r["domain"], r["owner_id"], r["is_archived"]) == (
            w["name"], w["domain"], w["owner_id"], False), cid
        assert r["lifecycle_stage"] == ("customer" if w["is_customer"] else "opportunity"), cid
        assert r["primary_contact_id"] == w["contact"], cid
        assert utc(r["updated_at"]) == ms(w["modified_at"]), cid
    # a person merged after the first run: a merge does not touch the company, so raw keeps
    # the contact id read then; staging resolves it to the record that stands for the person now
    company = str(COMPANY_ID_BASE + MERGED_BUYER.contact_id)
    raw = _rows(warehouse_url, "select associated_contact_ids, primary_contact_id "
                               f"from raw.\"hubspot__companies\" where id = '{company}'")
    assert raw == [{"associated_contact_ids": str(MERGED_BUYER.contact_id),
                    "primary_contact_id": str(MERGED_BUYER.contact_id)}]
    assert int(staged[company]["primary_contact_id"]) >= MERGED_ID_BASE

    # core: the world's companies, nothing else (this company keeps no Salesforce org)
    core = _rows(warehouse_url, "select * from core.dim_company")
    got = {(r["crm"], r["company_id"]): r for r in core}
    assert len(got) == len(core)
    assert set(got) == {("hubspot", cid) for cid in want}
    for cid, w in want.items():
        r = got[("hubspot", cid)]
        assert (r["company_name"], r["domain"], r["is_customer"]) == (
            w["name"], w["domain"], w["is_customer"]), cid
        assert utc(r["created_at"]) == ms(w["created_at"]), cid
    assert {r["is_customer"] for r in core} == {True, False}
