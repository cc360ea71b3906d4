"""Salesforce deletes between two nightly runs, on DuckDB and PostgreSQL: a converted Lead (with
its Contact and Task) and a won Opportunity are deleted after the first night. After each night
the marts equal the ground truth at that clock; after the second, the deleted records sit in raw
with ``IsDeleted = 'true'`` (no ``MasterRecordId``: a delete, not a merge) and are gone from core.

The same warehouse shows that a meeting (Event) is a sales touch only when the lead's owner
held it: a webinar logged by marketing after the MQL (constructed here) and meetings a calendar
sync logged without an owner are in raw, and first_sales_touch_at still equals the world's.

Real HTTP to the sandboxes, real warehouse, real dbt: the pipeline of the nightly flow.
"""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.servers.salesforce import sf_id
from revops.sandbox.truth import attribution as truth_attribution, funnel as truth_funnel, sales as truth_sales
from revops.sandbox.world import World, WorldConfig
from tests.conftest import nightly_warehouse
from tests.kpi_compare import diff_rows, fetch_like

pytestmark = pytest.mark.slow

WORLD = World(WorldConfig(seed=8, days=40, contacts_per_campaign_day=0.6, crms=("salesforce",),
                          rename_campaigns=False))
FIRST = WORLD.now - timedelta(days=6)
_with_deal = {d.contact_id for d in WORLD.deals}
#: deleted between the two nights (set before anything reads the world's touches/activities)
GONE_LEAD = next(
    c for c in WORLD.contacts
    if c.merged_into is None and not c.absorbed and c.contact_id not in _with_deal
    and c.deleted_at is None and c.stage_at.get("sql") and c.stage_at["sql"] < FIRST
    and c.first_sales_touch_at and c.first_sales_touch_at < FIRST
)
GONE_LEAD.deleted_at = FIRST + timedelta(days=1)
GONE_DEAL = next(
    d for d in WORLD.deals
    if d.deleted_at is None and d.is_won and d.close_at is not None and d.close_at < FIRST
)
GONE_DEAL.deleted_at = FIRST + timedelta(days=2)
#: qualified 5 minutes after creation, so marketing's webinar (logged 30 minutes after creation)
#: falls between the MQL and the owner's first call/email
WEBINAR_LEAD = next(
    c for c in WORLD.contacts
    if c.contact_id % 5 == 0 and c.owner_id and c.subscriber_at is None and c.stage_at.get("mql")
    and c.first_sales_touch_at and c.first_sales_touch_at < FIRST and c.merged_into is None
    and not c.absorbed and c.deleted_at is None
    and c.first_sales_touch_at - c.created_at > timedelta(hours=2)
)
WEBINAR_LEAD.stage_at["mql"] = WEBINAR_LEAD.created_at + timedelta(minutes=5)

#: marketing removes one response (a CampaignMember) of a live person with a won deal between
#: the nights: a touch before the deal's creation, so the deal's attribution path changes
_won_before_first = {d.contact_id: d for d in WORLD.deals
                     if d.is_won and d.close_at is not None and d.close_at < FIRST
                     and d.deleted_at is None and d is not GONE_DEAL}
REMOVED_TOUCH = next(
    t for t in WORLD.touches  # not the form that made the lead (its lead source stays)
    if t.contact_id in _won_before_first and t.at > WORLD.contact_by_id[t.contact_id].created_at and t.at < _won_before_first[t.contact_id].created_at
    and WORLD.contact_by_id[t.contact_id] is not GONE_LEAD
    and WORLD.contact_by_id[t.contact_id].merged_into is None
    and not WORLD.contact_by_id[t.contact_id].absorbed
    and WORLD.contact_by_id[t.contact_id].deleted_at is None
)
WORLD.removed_touches[REMOVED_TOUCH.touch_id] = FIRST + timedelta(days=1, hours=3)
MEMBER = sf_id("00v", REMOVED_TOUCH.touch_id)

MARTS = {
    "kpi_funnel_monthly": (truth_funnel.kpi_funnel_monthly, ("cohort_month", "channel", "campaign_id")),
    "kpi_lead_quality": (truth_funnel.kpi_lead_quality, ("mql_cohort_month", "channel", "campaign_id")),
    "kpi_pipeline": (truth_sales.kpi_pipeline, ("month", "pipeline", "channel")),
    "kpi_scorecard_monthly": (truth.kpi_scorecard_monthly, ("month",)),
    "kpi_attribution": (truth_attribution.kpi_attribution, ("month", "model", "platform", "campaign_id")),
}


def _marts_equal_truth(url: str, as_of) -> None:
    with Warehouse(url) as wh:
        for name, (fn, keys) in MARTS.items():
            want = fn(WORLD, as_of=as_of)
            got = fetch_like(wh, name, want)
            assert len(got) == len(want), name
            assert diff_rows(got, want, keys) == [], name


LEAD, CONTACT = sf_id("00Q", GONE_LEAD.contact_id), sf_id("003", GONE_LEAD.contact_id)
TASK, OPP = sf_id("00T", GONE_LEAD.contact_id), sf_id("006", GONE_DEAL.deal_id)


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def nights(request, tmp_path_factory):
    """The two nights on one warehouse per engine (built once): what the first night published
    is checked as it stands, before the second night runs."""
    first_night: list[AssertionError | None] = []

    def after_night(clock, url):
        if clock != FIRST:
            return
        try:
            _marts_equal_truth(url, FIRST)
            with Warehouse(url) as wh:
                assert wh.scalar(f"select count(*) from core.dim_contact where contact_id = '{LEAD}'") == 1
                assert wh.scalar(f"select count(*) from core.fct_deal where deal_id = '{OPP}'") == 1
                assert wh.scalar(f"select count(*) from core.fct_touch where touch_id = '{MEMBER}'") == 1
            first_night.append(None)
        except AssertionError as err:
            first_night.append(err)

    with nightly_warehouse(WORLD, request.param, tmp_path_factory, prefix="sf-deletes",
                           clocks=[FIRST, WORLD.now], after_night=after_night) as built:
        built["first_night"] = first_night
        yield built


def test_deletes_between_nights_leave_the_marts(nights) -> None:
    assert nights["first_night"] == [None], nights["first_night"]
    warehouse_url = nights["url"]
    lead, contact, task, opp = LEAD, CONTACT, TASK, OPP
    _marts_equal_truth(warehouse_url, WORLD.now)

    def raw(table: str, record_id: str) -> list[dict]:
        return wh.fetch_all(f'select "IsDeleted" as d, "SystemModstamp" as m from raw."{table}" '
                            f"where \"Id\" = '{record_id}'")

    with Warehouse(warehouse_url) as wh:
        stamp = "+0000"
        assert raw("salesforce__leads", lead)[0]["d"] == "true"
        assert raw("salesforce__contacts", contact)[0]["d"] == "true"
        assert raw("salesforce__tasks", task)[0]["d"] == "true"
        assert raw("salesforce__opportunities", opp)[0]["d"] == "true"
        assert raw("salesforce__opportunity_contact_roles", sf_id("00K", GONE_DEAL.deal_id))[0]["d"] == "true"
        moved = raw("salesforce__leads", lead)[0]["m"]
        assert moved.startswith(GONE_LEAD.deleted_at.strftime("%Y-%m-%dT%H:%M:%S")) and moved.endswith(stamp)
        masters = wh.fetch_all('select "MasterRecordId" as m from raw."salesforce__leads" '
                               f"where \"Id\" = '{lead}'")
        assert masters == [{"m": None}], "a delete, not a merge"
        assert wh.scalar(f"select count(*) from core.dim_contact where contact_id = '{lead}'") == 0
        assert wh.scalar(f"select count(*) from core.fct_deal where deal_id = '{opp}'") == 0
        # the deal's person stays a customer: deleting the deal does not undo the stage
        person = sf_id("00Q", GONE_DEAL.contact_id)
        row = wh.fetch_all(f"select customer_at from core.dim_contact where contact_id = '{person}'")
        assert len(row) == 1 and row[0]["customer_at"] is not None


def test_removed_campaign_member_leaves_the_touches(nights) -> None:
    """A CampaignMember removed from a live person between the nights (a hard delete: no
    IsDeleted row in queryAll) comes from the delete log: raw flags it, fct_touch drops it, and
    the attribution mart equals the truth without that touch (``_marts_equal_truth``)."""
    assert nights["first_night"] == [None], nights["first_night"]
    deal = _won_before_first[REMOVED_TOUCH.contact_id]
    person = WORLD.contact_by_id[REMOVED_TOUCH.contact_id]
    assert REMOVED_TOUCH not in WORLD.person_touches(person, WORLD.now)
    assert REMOVED_TOUCH in WORLD.person_touches(person, FIRST)
    assert deal.created_at > REMOVED_TOUCH.at
    with Warehouse(nights["url"]) as wh:
        raw = wh.fetch_all('select "IsDeleted" as d, "SystemModstamp" as m, "CampaignId" as c '
                           f"from raw.\"salesforce__campaign_members\" where \"Id\" = '{MEMBER}'")
        assert len(raw) == 1 and raw[0]["d"] == "true" and raw[0]["c"] is None
        removed_at = WORLD.removed_touches[REMOVED_TOUCH.touch_id]
        assert raw[0]["m"].startswith(removed_at.strftime("%Y-%m-%dT%H:%M:%S"))
        assert wh.scalar(f"select count(*) from core.fct_touch where touch_id = '{MEMBER}'") == 0
        # the person and their other touches stay
        lead = sf_id("00Q", person.contact_id)
        assert wh.scalar(f"select count(*) from core.dim_contact where contact_id = '{lead}'") == 1
        left = wh.scalar(f"select count(*) from core.fct_touch where contact_id = '{lead}'")
        assert left == len(WORLD.person_touches(person, WORLD.now))


def _meetings_between_mql_and_touch(owner: str | None) -> list[tuple[str, object]]:
    """(lead id, world first_sales_touch_at) of live people with a meeting by ``owner`` (None:
    nobody) after their MQL and before their first sales touch."""
    out = []
    for a in WORLD.activities:
        c = WORLD.contact_by_id[a.contact_ids[0]]
        mql, touch = c.stage_at.get("mql"), c.first_sales_touch_at
        if (a.kind == "meetings" and a.owner_id == owner and c.visible(WORLD.now) and mql
                and mql <= a.at <= WORLD.now and (touch is None or a.at < touch)):
            out.append((sf_id("00Q", c.contact_id), touch))
    return out


def test_meetings_by_others_than_the_owner_are_no_sales_touch(nights) -> None:
    marketing = next(o.owner_id for o in WORLD.owners if o.team == "Marketing")
    webinars = _meetings_between_mql_and_touch(marketing)
    unowned = _meetings_between_mql_and_touch(None)
    assert sf_id("00Q", WEBINAR_LEAD.contact_id) in {lid for lid, _ in webinars}
    assert len(unowned) > 3
    warehouse_url = nights["url"]
    with Warehouse(warehouse_url) as wh:
        events = wh.fetch_all('select "WhoId" as who, "OwnerId" as owner from raw."salesforce__events"')
        touched = {r["contact_id"]: r["first_sales_touch_at"] for r in wh.fetch_all(
            "select contact_id, first_sales_touch_at from core.dim_contact")}
    owners = {sf_id("005", marketing), "005" + "1".zfill(15)}
    assert {e["owner"] for e in events} == owners
    assert any(e["who"] == sf_id("00Q", WEBINAR_LEAD.contact_id)
               or e["who"] == sf_id("003", WEBINAR_LEAD.contact_id) for e in events)
    for lead, touch in webinars + unowned:
        got = touched[lead]
        if touch is None or touch > WORLD.now:
            assert got is None, lead
        else:
            got = got.astimezone(UTC) if got.tzinfo else got.replace(tzinfo=UTC)
            assert got == touch.replace(microsecond=touch.microsecond // 1000 * 1000), lead
    _marts_equal_truth(warehouse_url, WORLD.now)
