"""HubSpot through the warehouse on both engines: two nightly syncs (a contact and a deal are
deleted between them), then ``dbt build`` of staging. The deleted records stay in raw with
``archived = true`` and leave the live staging rows; engagements and deal stages equal the world.

Real HTTP to the sandbox, real DuckDB/PostgreSQL, real dbt. Kept apart from test_hubspot.py,
which stays fast."""

from __future__ import annotations

import pytest

from datetime import UTC, datetime, timedelta


from revops import pipeline
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.transform import build
from tests.sources.hubspot_ids import hs_id
from tests.db import ms, rows as _rows, utc
from revops.sandbox.registry import get_sandbox

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("hubspot")

TOKEN = "pat-na1-staging-3b7e"
WORLD = World(WorldConfig(days=23))
FIRST = WORLD.now - timedelta(days=8)
_with_deal = {d.contact_id for d in WORLD.deals}
#: deleted between the two runs (set before anything reads the world's activities)
GONE_CONTACT = next(
    c for c in WORLD.contacts
    if c.created_at < FIRST - timedelta(days=2) and not c.absorbed and c.merged_into is None
    and c.contact_id not in _with_deal and c.deleted_at is None and c.first_sales_touch_at
    and c.first_sales_touch_at < FIRST
)
GONE_CONTACT.deleted_at = FIRST + timedelta(days=1)
GONE_DEAL = next(d for d in WORLD.deals if d.created_at < FIRST and d.deleted_at is None)
GONE_DEAL.deleted_at = FIRST + timedelta(days=2)


def test_deletes_between_runs_and_staging_equal_the_world(warehouse_url, tmp_path) -> None:
    app = SANDBOX.app(WORLD, token=TOKEN, as_of=FIRST)
    with SandboxServer(app) as server:
        settings = settings_from_env(
            SANDBOX.env(server.url, TOKEN, WORLD),
            warehouse_url=warehouse_url,
            data_dir=str(tmp_path / "data"),
            http_max_backoff_seconds=0.02,
        )
        results = []
        for clock in (FIRST, WORLD.now):
            app.as_of = clock
            wh, run_id = pipeline.prepare(settings, "test")
            results.append(pipeline.sync_source(settings, wh, run_id, "hubspot"))
            wh.dispose()
    assert all(s.rows_quarantined == 0 for r in results for s in r.streams)
    build(settings, select="staging")

    # raw keeps the deleted records, flagged by the recycle-bin pass of the second run
    contact = _rows(warehouse_url, 'select id, archived, "archivedAt" from raw."hubspot__contacts" '
                                   f"where id = '{GONE_CONTACT.contact_id}'")
    assert contact == [{"id": str(GONE_CONTACT.contact_id), "archived": True,
                        "archivedAt": WORLD_ISO(GONE_CONTACT.deleted_at)}]
    deal = _rows(warehouse_url, 'select id, archived from raw."hubspot__deals" '
                                f"where id = '{GONE_DEAL.deal_id}'")
    assert deal == [{"id": str(GONE_DEAL.deal_id), "archived": True}]

    # staging: live rows = the world (merged-away records linger, resolved by the merges model)
    contacts = _rows(warehouse_url, "select contact_id, is_archived, archived_at "
                                    "from staging.stg_hubspot__contacts")
    merged = {r["merged_id"] for r in _rows(warehouse_url, "select merged_id from "
                                            "staging.stg_hubspot__contact_merges")}
    live = {r["contact_id"] for r in contacts if not r["is_archived"]} - merged
    # a merge minted new ids: the survivors' old ids are retired too
    assert live == {hs_id(WORLD, c.contact_id, WORLD.now) for c in WORLD.contacts_as_of(WORLD.now)}
    assert any(hs_id(WORLD, c.contact_id, FIRST) != hs_id(WORLD, c.contact_id, WORLD.now)
               and c.created_at <= FIRST for c in WORLD.contacts_as_of(WORLD.now)), \
        "a person loaded by the first run must be merged before the second"
    archived = {r["contact_id"]: r["archived_at"] for r in contacts if r["is_archived"]}
    assert str(GONE_CONTACT.contact_id) in archived
    assert utc(archived[str(GONE_CONTACT.contact_id)]) == ms(GONE_CONTACT.deleted_at)
    deals = _rows(warehouse_url, "select deal_id, is_archived from staging.stg_hubspot__deals")
    assert {r["deal_id"] for r in deals if not r["is_archived"]} == {
        str(d.deal_id) for d in WORLD.deals_as_of(WORLD.now)}

    # engagements: one row per (activity, contact), as the world logged them
    eng = _rows(warehouse_url, "select * from staging.stg_hubspot__engagements")
    want = {
        # logged under the id the contact had then, resolved to the person's id now
        (str(a.activity_id), hs_id(WORLD, c, WORLD.now)): a
        for a in WORLD.activities if a.at <= WORLD.now for c in a.contact_ids
    }
    got = {(r["engagement_id"], r["contact_id"]): r for r in eng}
    assert set(got) == set(want) and len(eng) == len(got)
    kinds = {"calls": "call", "emails": "email", "meetings": "meeting"}
    for key, a in want.items():
        r = got[key]
        assert (r["type"], r["owner_id"], r["direction"]) == (kinds[a.kind], a.owner_id,
                                                              a.direction), key
        assert utc(r["occurred_at"]) == ms(a.at), key
        assert r["is_archived"] is False
    assert any(len(a.contact_ids) > 1 for a in want.values()), "a meeting with two contacts"

    # the first sales touch = earliest outbound call / sent email; "any engagement" is wrong
    touches: dict[str, datetime] = {}
    earliest_any: dict[str, datetime] = {}
    for r in eng:
        at = utc(r["occurred_at"])
        cid = r["contact_id"]
        earliest_any[cid] = min(at, earliest_any.get(cid, at))
        if r["is_outbound"] and r["owner_id"] is not None:
            touches[cid] = min(at, touches.get(cid, at))
    expected = {hs_id(WORLD, c.contact_id, WORLD.now): ms(c.first_sales_touch_at)
                for c in WORLD.contacts_as_of(WORLD.now)
                if c.first_sales_touch_at and c.first_sales_touch_at <= WORLD.now}
    assert {k: v for k, v in touches.items() if k in expected} == expected
    assert not set(touches) - set(expected) - {str(GONE_CONTACT.contact_id)}
    wrong = [k for k, v in earliest_any.items() if expected.get(k) != v and k in expected]
    untouched = [k for k in earliest_any if k not in touches]
    assert wrong and untouched, "non-touch engagements must come first or alone for some"

    # deal stages: won/lost from metadata, whatever the label or id
    stages = {(r["pipeline_id"], r["stage_id"]): r
              for r in _rows(warehouse_url, "select * from staging.stg_hubspot__deal_stages")}
    won = stages[("default", "closedwon")]
    assert (won["is_closed"], won["is_won"], won["is_lost"]) == (True, True, False)
    assert won["stage_label"] == "Negócio fechado" and won["pipeline_label"]
    lost = stages[("default", "closedlost")]
    assert (lost["is_closed"], lost["is_won"], lost["is_lost"]) == (True, False, True)
    assert stages[("87654321", "87654323")]["is_won"] is True
    assert not stages[("default", "contractsent")]["is_closed"]
    assert sum(r["is_won"] for r in stages.values()) == 2


def WORLD_ISO(dt: datetime) -> str:  # noqa: N802 - HubSpot's wire format of a world time
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
