"""A HubSpot merge between two nightly runs does not double-count, and a merge chain resolves.

HubSpot's merge mints a NEW id for the merged record (HubSpot changelog, "Updated merge
functionality for contacts and companies":
https://developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-and-companies):
the person a first run loaded under its old id (with its deal and engagements associated to that
id) comes back under a new id that lists the old ones in ``hs_merged_object_ids``. Here one
person is merged twice, with a run between each step:

* night 1: before the first merge (the survivor, its duplicate, its deal and its first sales
  touch are loaded under their own ids);
* night 2: after the first merge (a new id N1), before the second (another duplicate, re-pointed
  at this person by the test, is still a contact of its own);
* night 3: after the second merge (a new id N2 that also retires N1: a chain).

Every night the marts equal the sandbox's ground truth at that clock, the person counts once,
under its id of that night, with its deal and engagements; and the form submissions in staging
equal the world's touches as of the clock, per person after merge resolution.

Real HTTP to the sandboxes, the real pipeline (pipeline.run), DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.truth import funnel as truth_funnel, sales as truth_sales
from revops.sandbox.world import World, WorldConfig
from tests.conftest import nightly_warehouse
from tests.kpi_compare import diff_rows
from tests.sources.hubspot_ids import hs_id, merges_of

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SURVIVOR, FIRST_DUP, SECOND_DUP = 100134, 100457, 100460


def _world() -> World:
    """The world of seed 8 (40 days), with a second duplicate re-pointed at SURVIVOR so that it
    is merged twice (the world itself merges each person once). Edited before anything reads
    the world's activities or touches (both are derived, cached)."""
    world = World(WorldConfig(seed=8, days=40, contacts_per_campaign_day=0.5))
    s = world.contact_by_id[SURVIVOR]
    d1, d2 = world.contact_by_id[FIRST_DUP], world.contact_by_id[SECOND_DUP]
    assert d1.merged_into == SURVIVOR, "the world changed: pick the merges again"
    world.contact_by_id[d2.merged_into].absorbed.remove(d2.contact_id)
    d2.merged_into = s.contact_id
    d2.merged_at = d1.merged_at + timedelta(days=5)
    s.absorbed.append(d2.contact_id)
    return world


WORLD = _world()
_S = WORLD.contact_by_id[SURVIVOR]
_D1, _D2 = WORLD.contact_by_id[FIRST_DUP], WORLD.contact_by_id[SECOND_DUP]
#: before the first merge, between the two, after both (the world's clock)
CLOCKS = [_D1.merged_at - timedelta(hours=12), _D1.merged_at + timedelta(days=2), WORLD.now]
DEAL = next(d for d in WORLD.deals if d.contact_id == SURVIVOR)

FUNNEL_KEYS = ("cohort_month", "channel", "campaign_id")
QUALITY_KEYS = ("mql_cohort_month", "channel", "campaign_id")
PIPELINE_KEYS = ("month", "pipeline", "channel")
CHANNEL_KEYS = ("date_day", "platform", "campaign_id", "channel")


def test_the_scenario_is_in_the_world() -> None:
    """Guards the premises: a wrong pick would make the tests below prove nothing."""
    first, between, last = CLOCKS
    assert _S.created_at < _D1.created_at < first < _D1.merged_at < between < _D2.merged_at < last
    assert _D2.created_at < first, "the second duplicate is loaded as a contact of its own"
    assert DEAL.created_at < first and DEAL.deleted_at is None
    touch = _S.first_sales_touch_at
    assert touch is not None and touch < first, "an engagement logged under the old id"
    ids = [hs_id(WORLD, SURVIVOR, c) for c in CLOCKS]
    assert len(set(ids)) == 3 and ids[0] == str(SURVIVOR)
    assert [len(merges_of(WORLD, _S, c)) for c in CLOCKS] == [0, 1, 2]


def _snapshot(clock: datetime, url: str) -> dict:
    wh = Warehouse(url)
    try:
        return {
            "kpi_funnel_monthly": wh.fetch_all("select * from marts.kpi_funnel_monthly"),
            "kpi_lead_quality": wh.fetch_all("select * from marts.kpi_lead_quality"),
            "kpi_pipeline": wh.fetch_all("select * from marts.kpi_pipeline"),
            "kpi_channel_daily": wh.fetch_all("select * from marts.kpi_channel_daily"),
            "contacts": wh.fetch_all(
                "select contact_id from core.dim_contact where crm = 'hubspot'"),
            "deals": wh.fetch_all(
                "select deal_id, contact_id from core.fct_deal where crm = 'hubspot'"),
            "engagements": wh.fetch_all(
                "select engagement_id, contact_id, is_outbound, owner_id"
                " from staging.stg_hubspot__engagements"),
            "touches": wh.fetch_all("select * from staging.stg_hubspot__touches"),
            "archived": {r["contact_id"] for r in wh.fetch_all(
                "select contact_id from staging.stg_hubspot__contacts where is_archived")},
        }
    finally:
        wh.dispose()


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def nights(request, tmp_path_factory) -> dict[datetime, dict]:
    seen: dict[datetime, dict] = {}
    with nightly_warehouse(WORLD, request.param, tmp_path_factory, prefix="merges",
                           clocks=CLOCKS,
                           after_night=lambda clock, url: seen.setdefault(clock,
                                                                          _snapshot(clock, url))):
        pass
    return seen


@pytest.mark.parametrize("night", range(3), ids=["before", "between", "after"])
def test_marts_equal_the_truth_every_night(nights, night: int) -> None:
    clock = CLOCKS[night]
    got = nights[clock]
    for name, keys, want in (
        ("kpi_funnel_monthly", FUNNEL_KEYS, truth_funnel.kpi_funnel_monthly(WORLD, clock)),
        ("kpi_lead_quality", QUALITY_KEYS, truth_funnel.kpi_lead_quality(WORLD, clock)),
        ("kpi_pipeline", PIPELINE_KEYS, truth_sales.kpi_pipeline(WORLD, clock)),
        ("kpi_channel_daily", CHANNEL_KEYS, truth.kpi_channel_daily(WORLD, clock)),
    ):
        assert want, f"{name}: the truth must have rows"
        rows = [{k: r[k] for k in want[0]} for r in got[name]]
        assert len(rows) == len(want), name
        assert diff_rows(rows, want, keys) == [], name


@pytest.mark.parametrize("night", range(3), ids=["before", "between", "after"])
def test_the_merged_person_counts_once_under_its_id_of_the_night(nights, night: int) -> None:
    clock = CLOCKS[night]
    got = nights[clock]
    people = [r["contact_id"] for r in got["contacts"]]
    assert len(people) == len(set(people))
    assert set(people) == {hs_id(WORLD, c.contact_id, clock) for c in WORLD.contacts_as_of(clock)}
    person = hs_id(WORLD, SURVIVOR, clock)
    # the ids the person had on earlier nights and the duplicates merged into it by now
    retired = {hs_id(WORLD, SURVIVOR, c) for c in CLOCKS[:night]}
    retired |= {str(d) for d, merged in ((FIRST_DUP, night >= 1), (SECOND_DUP, night >= 2))
                if merged}
    assert person in people and person not in retired
    assert not retired & set(people), "a retired id counts the person twice"
    assert (str(SECOND_DUP) in people) == (night < 2), "a contact of its own until merged"
    # its deal and its engagements are attached to the id of the night, whatever id they were
    # loaded under (the deal's association and the touch were read on night 1)
    deals = {r["deal_id"]: r["contact_id"] for r in got["deals"]}
    assert deals[str(DEAL.deal_id)] == person
    mine = {r["engagement_id"] for r in got["engagements"] if r["contact_id"] == person}
    want = {str(a.activity_id) for a in WORLD.activities
            if SURVIVOR in a.contact_ids and a.at <= clock}
    assert want and mine == want
    assert not {r["contact_id"] for r in got["engagements"]} & retired
    # every deal and engagement points at a person of the night, or at a deleted contact
    known = set(people) | got["archived"]
    assert {r["contact_id"] for r in got["deals"] if r["contact_id"]} <= known
    assert {r["contact_id"] for r in got["engagements"] if r["contact_id"]} <= known


def _ms(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


@pytest.mark.parametrize("night", range(3), ids=["before", "between", "after"])
def test_touches_in_staging_equal_the_worlds_touches(nights, night: int) -> None:
    """Per person (after merge resolution), the form submissions in stg_hubspot__touches are the
    world's touches at the clock: time (ms) and the utm_campaign the form captured. Deleted
    contacts' touches are left out on both sides (core drops them)."""
    clock = CLOCKS[night]
    got = nights[clock]
    rows = [r for r in got["touches"] if r["contact_id"] not in got["archived"]]
    assert all(r["touch_type"] == "form_submission" for r in rows)
    assert all(r["contact_id"] is not None for r in rows), "every submission finds its person"
    assert len({r["touch_id"] for r in got["touches"]}) == len(got["touches"])
    have = Counter((r["contact_id"], _utc(r["touched_at"]), r["utm_campaign"]) for r in rows)
    want = Counter(
        (hs_id(WORLD, t.contact_id, clock), _ms(t.at), t.utm_campaign)
        for t in WORLD.touches
        if t.at <= clock and not WORLD.contact_by_id[t.contact_id].deleted_by(clock)
    )
    assert want and have == want
    # the merged person holds its duplicates' submissions, made under their own emails
    person = hs_id(WORLD, SURVIVOR, clock)
    owners = {t.contact_id for t in WORLD.touches if hs_id(WORLD, t.contact_id, clock) == person
              and t.at <= clock}
    assert (FIRST_DUP in owners) == (night > 0)
    assert {r["campaign_name"] for r in got["touches"]} == {
        f"{t.campaign.name} - landing page form" for t in WORLD.touches if t.at <= clock}
