"""Salesforce through the warehouse: the daily request limit stops a sync without losing the
loaded pages, and the staging models build on both engines and equal the world.

Real HTTP to the sandbox, real DuckDB/PostgreSQL, real dbt. (Kept apart from
test_salesforce.py, which stays fast: Great Expectations and dbt start-up cost seconds.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.salesforce import SalesforceSandbox
from revops.sandbox.world import World, WorldConfig
from revops.settings import Settings, settings_from_env
from revops.sources.salesforce.client import RequestLimitExceeded
from revops.sources.salesforce.streams import SalesforceSource
from revops.transform import build
from tests.db import ms
from revops.sandbox.registry import get_sandbox

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("salesforce")

TOKEN = "refresh-token-for-staging-9c2e"
WORLD = World(WorldConfig(days=23))
ORG_TZ = ZoneInfo("America/Los_Angeles")
SMALL_BATCH = 50


@pytest.fixture
def served() -> Iterator[tuple[SalesforceSandbox, dict[str, str]]]:
    app = SalesforceSandbox(WORLD, token=TOKEN, min_batch_size=SMALL_BATCH)
    with SandboxServer(app) as server:
        yield app, SANDBOX.env(server.url, TOKEN, WORLD)


def settings_for(env: dict[str, str], url: str, tmp_path) -> Settings:
    return settings_from_env(env, warehouse_url=url, data_dir=tmp_path,
                             http_max_backoff_seconds=0.02,
                             salesforce_batch_size=SMALL_BATCH)


def utc(value) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def test_request_limit_stop_keeps_loaded_pages_and_the_next_run_loses_nothing(
    served, duckdb_url: str, tmp_path
) -> None:
    app, env = served
    settings = settings_for(env, duckdb_url, tmp_path)
    wh, run_id = pipeline.prepare(settings, "test")
    app.faults.add("request_limit", times=10_000, after=9)  # mid-leads, after a few pages
    with pytest.raises(RequestLimitExceeded, match="rolling 24 hours"):
        pipeline.sync_source(settings, wh, run_id, "salesforce")
    partial = wh.scalar('select count(*) from raw."salesforce__leads"')
    assert 0 < partial < len(app.expected_keys("leads"))
    assert wh.get_state("salesforce", "leads") is not None
    app.faults.clear()
    app.log.clear()
    pipeline.sync_source(settings, wh, run_id, "salesforce")
    lead_query = next(r.args["q"] for r in app.log if "FROM Lead " in r.args.get("q", ""))
    assert "WHERE SystemModstamp >= " in lead_query, "the second run resumes, it does not restart"
    clean = SalesforceSource(settings)
    for stream in clean.streams:
        expected = {r["Id"]: r for b in clean.read(stream, None) for r in b.records.to_pylist()}
        cols = ", ".join(f'"{f.name}"' for f in stream.schema)
        loaded = {r["Id"]: r for r in wh.fetch_all(f'select {cols} from raw."{stream.table}"')}
        assert loaded == expected, stream.table
    assert wh.scalar("select count(*) from ops.quarantine") == 0
    wh.dispose()


def test_staging_models_build_and_equal_the_world(
    served, warehouse_url: str, tmp_path
) -> None:
    app, env = served
    settings = settings_for(env, warehouse_url, tmp_path)
    earlier = WORLD.now - timedelta(days=8)
    app.as_of = earlier  # two nights: the second merges restated leads onto the first
    wh, run_id = pipeline.prepare(settings, "test")
    pipeline.sync_source(settings, wh, run_id, "salesforce")
    app.as_of = WORLD.now
    pipeline.sync_source(settings, wh, run_id, "salesforce")
    wh.dispose()
    result = build(settings, select="staging.salesforce")
    assert result.success and not result.failures
    now = WORLD.now
    wh = Warehouse(settings.warehouse_url)
    try:
        people = [c for c in WORLD.contacts if c.created_at <= now]
        leads = {r["lead_id"]: r for r in wh.fetch_all("select * from staging.stg_salesforce__leads")}
        assert len(leads) == len(people)
        deleted = {k for k, r in leads.items() if r["is_deleted"]}
        # merged away (MasterRecordId) or deleted (no MasterRecordId)
        assert deleted == {f"00Q{c.contact_id:015d}" for c in people
                           if (c.merged_at and c.merged_at <= now) or c.deleted_by(now)}
        masters = {k for k, r in leads.items() if r["master_record_id"]}
        assert masters == {f"00Q{c.contact_id:015d}" for c in people
                           if c.merged_at and c.merged_at <= now}
        assert any(c.deleted_by(now) for c in people), "the world deletes someone"
        history = wh.fetch_all(
            "select lead_id, new_value, min(created_at) as entered_at "
            "from staging.stg_salesforce__lead_history where field = 'Status' "
            "group by lead_id, new_value")
        entered = {(r["lead_id"], r["new_value"]): utc(r["entered_at"]) for r in history}
        checked = 0
        for c in people:
            if c.merged_at is not None or c.deleted_by(now):
                continue
            lid = f"00Q{c.contact_id:015d}"
            for stage, status in (("mql", "Marketing Qualified"), ("sql", "Closed - Converted")):
                t = c.stage_at.get(stage)
                if t is not None and t <= now:
                    assert entered[(lid, status)] == ms(t), (lid, stage)
                    checked += 1
                else:
                    assert (lid, status) not in entered
            if c.rejected_at and c.rejected_at <= now:
                assert entered[(lid, "Disqualified")] == ms(c.rejected_at)
                assert leads[lid]["rejection_reason"] == c.rejection_reason
            sql_at = c.stage_at.get("sql")
            if sql_at and sql_at <= now:
                assert leads[lid]["is_converted"] is True
                assert leads[lid]["converted_date"] == sql_at.astimezone(ORG_TZ).date()
                assert leads[lid]["converted_contact_id"] == f"003{c.contact_id:015d}"
            assert utc(leads[lid]["created_at"]) == ms(c.created_at)
            assert leads[lid]["utm_campaign"] == (c.utm_campaign.strip() if c.utm_campaign else None)
        assert checked > 50
        opps = {r["opportunity_id"]: r for r in
                wh.fetch_all("select * from staging.stg_salesforce__opportunities")}
        deals = WORLD.deals_as_of(now)
        assert {k for k, o in opps.items() if not o["is_deleted"]} == {
            f"006{d.deal_id:015d}" for d in deals}
        assert {k for k, o in opps.items() if o["is_deleted"]} == {
            f"006{d.deal_id:015d}" for d in WORLD.deals if d.created_at <= now and d.deleted_by(now)}
        for d in deals:
            o = opps[f"006{d.deal_id:015d}"]
            assert Decimal(str(o["amount"])) == d.amount
            assert o["is_won"] is bool(d.close_at and d.close_at <= now and d.is_won)
        tasks = wh.fetch_all("select who_type, activity_date, completed_at "
                             "from staging.stg_salesforce__tasks")
        assert tasks and {t["who_type"] for t in tasks} == {"lead", "contact"}
        assert all(t["activity_date"] == utc(t["completed_at"]).astimezone(ORG_TZ).date()
                   for t in tasks)
    finally:
        wh.dispose()


def test_touches_in_staging_equal_the_worlds_touches(served, warehouse_url: str, tmp_path) -> None:
    """Two nights (merges and conversions in between re-parent members), then staging: per live
    person, the first touch of each campaign in stg_salesforce__touches is the world's, with the
    time to the millisecond and the Campaign's UTM field (its Name when empty)."""
    app, env = served
    settings = settings_for(env, warehouse_url, tmp_path)
    now = WORLD.now
    wh, run_id = pipeline.prepare(settings, "test")
    for clock in (now - timedelta(days=8), now):
        app.as_of = clock
        result = pipeline.sync_source(settings, wh, run_id, "salesforce")
        assert all(s.rows_quarantined == 0 for s in result.streams)
    wh.dispose()
    result = build(settings, select="staging.salesforce")
    assert result.success and not result.failures
    wh = Warehouse(settings.warehouse_url)
    try:
        rows = wh.fetch_all("select * from staging.stg_salesforce__touches")
        members = wh.fetch_all("select has_responded, lead_id, contact_id "
                               "from staging.stg_salesforce__campaign_members")
    finally:
        wh.dispose()
    assert {r["touch_type"] for r in rows} == {"campaign_member"}
    assert {m["has_responded"] for m in members} == {True, False}, "not-responded members exist"
    assert any(m["lead_id"] is None and m["contact_id"] for m in members), "contact-only members"
    world_ids = {f"00v{t.touch_id:015d}" for t in WORLD.touches}
    assert {r["touch_id"] for r in rows} <= world_ids, "only responses are touches"
    first: dict[tuple[str, str], dict] = {}
    for r in sorted(rows, key=lambda r: (utc(r["touched_at"]), r["touch_id"])):
        first.setdefault((r["contact_id"], r["utm_campaign"]), r)
    got: dict[str, set] = {}
    for (person, utm), r in first.items():
        got.setdefault(person, set()).add((r["touch_id"], utc(r["touched_at"]), utm))

    def utm(camp) -> str:
        return camp.name_as_of(now) if camp.platform == "offline" else camp.campaign_id

    checked = 0
    for c in WORLD.contacts_as_of(now):
        lid = f"00Q{c.contact_id:015d}"
        want = {(f"00v{t.touch_id:015d}", ms(t.at), utm(t.campaign))
                for t in WORLD.person_touches(c, now)}
        assert got.get(lid, set()) == want, lid
        checked += len(want)
    assert checked > 300
    assert any(c.absorbed and c.merged_ids_as_of(now, WORLD) and
               any(t.contact_id != c.contact_id for t in WORLD.person_touches(c, now))
               for c in WORLD.contacts_as_of(now)), "a survivor has a duplicate's touch"
