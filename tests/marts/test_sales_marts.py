"""marts.kpi_lead_response and marts.kpi_pipeline against the sandbox's ground truth
(revops.sandbox.truth.sales), on DuckDB and PostgreSQL.

Two warehouses per engine: the session's ``built_warehouse`` (the shared world at its clock) and
an edge-case world of this module, edited so that the cases the shared world never shows are in
the data: a month without any deal activity, a deal whose contact is unknown, an MQL still
pending within the SLA, a week/owner with no touched MQL, an owner the CRM no longer lists.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.truth import sales as truth_sales
from revops.sandbox.world import Contact, World, WorldConfig
from tests.kpi_compare import diff_rows

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

LEAD_KEYS = ("mql_week", "owner_id", "team")
PIPELINE_KEYS = ("month", "pipeline", "channel")
def _mart(url: str, name: str, keys: tuple[str, ...]) -> list[dict]:
    wh = Warehouse(url)
    try:
        return wh.fetch_all(f"select * from marts.{name} order by {', '.join(keys)}")
    finally:
        wh.dispose()


def _run_started(url: str) -> datetime:
    """When the last pipeline run that built the warehouse started (before its sync and its dbt
    build): the instant its CRM data is as of."""
    wh = Warehouse(url)
    try:
        started = wh.scalar("select max(started_at) from ops.runs")
    finally:
        wh.dispose()
    if isinstance(started, str):
        started = datetime.fromisoformat(started)
    return started if started.tzinfo else started.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- the truth itself
def test_percentile_cont_is_linear_interpolation_between_closest_ranks():
    import numpy as np

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 57):
        xs = list(rng.lognormal(2.2, 1.0, n))
        for q in (0.0, 0.5, 0.9, 1.0):
            assert math.isclose(truth_sales.percentile_cont(xs, q), float(np.percentile(xs, q * 100)),
                                rel_tol=1e-12)
        assert math.isclose(truth_sales.percentile_cont(xs, 0.5), statistics.median(xs), rel_tol=1e-12)
    assert truth_sales.percentile_cont([], 0.9) is None
    assert truth_sales.percentile_cont([1.0, 2.0, 10.0], 0.9) == pytest.approx(8.4)


# --------------------------------------------------------------------------- the shared world
def test_lead_response_equals_truth(built_warehouse):
    url, world = built_warehouse["url"], built_warehouse["world"]
    got = _mart(url, "kpi_lead_response", LEAD_KEYS)
    # pending/missed as of the start of the sync that read the CRM (the mart's as_of column)
    want = truth_sales.kpi_lead_response(world, run_at=_run_started(url))
    assert len(got) == len(want) > 20
    assert diff_rows(got, want, LEAD_KEYS) == []
    assert {r["team"] for r in got} == {"SDR East", "SDR West", "(none)"}
    assert any(r["owner_id"] == "(none)" and r["owner_name"] is None for r in got)


def test_pipeline_equals_truth(built_warehouse):
    got = _mart(built_warehouse["url"], "kpi_pipeline", PIPELINE_KEYS)
    want = truth_sales.kpi_pipeline(built_warehouse["world"])
    assert len(got) == len(want) >= 6
    assert diff_rows(got, want, PIPELINE_KEYS) == []


def test_pipeline_zero_denominators_are_null(built_warehouse):
    got = _mart(built_warehouse["url"], "kpi_pipeline", PIPELINE_KEYS)
    nothing_closed = [r for r in got if r["won_deals"] + r["lost_deals"] == 0]
    assert nothing_closed, "the shared world has a month/channel in which no deal closed"
    for r in nothing_closed:
        assert r["win_rate"] is None and r["win_rate_amount"] is None
        assert r["avg_won_amount"] is None and r["avg_sales_cycle_days"] is None
        assert r["pipeline_velocity"] is None
        assert r["won_amount"] == 0 and r["lost_amount"] == 0
    closed = [r for r in got if r["won_deals"] > 0]
    assert closed and all(r["pipeline_velocity"] is not None for r in closed)


def test_lead_response_rows_add_up(built_warehouse):
    for r in _mart(built_warehouse["url"], "kpi_lead_response", LEAD_KEYS):
        assert r["within_sla"] + r["missed_sla"] + r["pending"] == r["mqls"]
        assert r["within_sla"] <= r["touched"] <= r["mqls"]
        assert r["mql_week"].weekday() == 0


def test_reconciliations(built_warehouse):
    wh = Warehouse(built_warehouse["url"])
    try:
        mqls = wh.scalar("select count(*) from core.dim_person where mql_at is not null")
        assert wh.scalar("select sum(mqls) from marts.kpi_lead_response") == mqls
        deals = wh.scalar("select count(*) from core.fct_deal")
        assert wh.scalar("select sum(deals_created) from marts.kpi_pipeline") == deals
        won = wh.scalar("select sum(amount) from core.fct_deal where is_won")
        assert abs(Decimal(str(wh.scalar("select sum(won_amount) from marts.kpi_pipeline"))) - Decimal(str(won))) < Decimal("0.005")
        # and the publish gate checked both suites, reconciliations included, and passed them
        rows = wh.fetch_all(
            "select suite, expectation_type, success from ops.quality_results "
            "where suite in ('marts__kpi_lead_response', 'marts__kpi_pipeline')"
        )
    finally:
        wh.dispose()
    world = built_warehouse["world"]
    assert mqls == sum(1 for c in world.contacts_as_of(world.now) if c.stage_as_of("mql", world.now))
    assert deals == len(world.deals_as_of(world.now))
    assert rows and all(r["success"] for r in rows)
    sums = {(r["suite"]) for r in rows if r["expectation_type"] == "expect_column_sum_to_be_between"}
    assert sums == {"marts__kpi_lead_response", "marts__kpi_pipeline"}


# --------------------------------------------------------------------------- the edge-case world
EDGE_DEALS_BEFORE = datetime(2026, 6, 25, tzinfo=UTC)
UNKNOWN_OWNER = "79999999"
UNKNOWN_CONTACT = 99999999
COMMITTEE_CONTACT = 1000001


def edge_world(clock: datetime) -> World:
    """A small world edited (only its data, never the sandbox) so that it holds:

    * deals created in June only, none created or closed in July, one won and one lost in
      August, the rest open: July is a month without activity, September..the clock are not
      months at all (no deal event after August);
    * a deal whose associated contact the CRM does not have: channel 'other';
    * (at serve time) a portal whose rejected-date property stays empty, and a bulk edit of
      every contact an hour before the clock;
    * a deal with two associated contacts (a later, organic colleague whose id sorts first as
      text): it counts for the contact created first;
    * an MQL two hours before the clock, untouched: pending (the SLA runs out long after the build);
    * an MQL thirty days before the clock, untouched, of an owner the CRM no longer lists:
      missed, with no touched MQL in its row (hours NULL, share 0).
    """
    # one night: see tests/core; no deletes: the counts below are of every deal it makes
    world = World(WorldConfig(seed=5, days=8, rename_campaigns=False, delete_share=0))
    world.deals = [d for d in world.deals if d.created_at < EDGE_DEALS_BEFORE]
    # a buying committee: a colleague who arrived later (organic) is associated with an open,
    # paid-social deal; the deal still counts for its first-created contact, although the
    # colleague's id '1000001' sorts before the person's as text
    committee_deal = next(d for d in world.deals[3:] if d.contact_id >= 100100
                          and world.contact_by_id[d.contact_id].source_campaign is not None)
    person = world.contact_by_id[committee_deal.contact_id]
    colleague = Contact(
        contact_id=COMMITTEE_CONTACT, email=f"colleague.{COMMITTEE_CONTACT}@example.org",
        first_name="Sam", last_name="Colleague", created_at=person.created_at + timedelta(hours=5),
        owner_id=None, source_campaign=None, utm_campaign=None,
        stage_at={"lead": person.created_at + timedelta(hours=5)},
    )
    world.contacts.append(colleague)
    world.__dict__.pop("contact_by_id", None)  # the cached index gains the colleague
    committee_deal.committee = [COMMITTEE_CONTACT]
    for d in world.deals:
        d.close_at, d.is_won = None, False
        world.contact_by_id[d.contact_id].stage_at.pop("customer", None)
    won, lost, orphan = world.deals[0], world.deals[1], world.deals[2]
    won.close_at, won.is_won = datetime(2026, 8, 20, 15, 30, 0, 123456, tzinfo=UTC), True
    world.contact_by_id[won.contact_id].stage_at["customer"] = won.close_at
    lost.close_at = datetime(2026, 8, 25, 10, 0, tzinfo=UTC)
    orphan.contact_id = UNKNOWN_CONTACT
    with_deal = {d.contact_id for d in world.deals}
    spare = [c for c in world.contacts if "mql" in c.stage_at and c.merged_into is None
             and not c.absorbed and c.contact_id not in with_deal]
    for c, mql_at, owner in ((spare[0], clock - timedelta(hours=2), world.owners[0].owner_id),
                             (spare[1], clock - timedelta(days=30), UNKNOWN_OWNER)):
        c.stage_at = {"lead": mql_at - timedelta(hours=1), "mql": mql_at}
        c.subscriber_at = None
        c.first_sales_touch_at = c.rejected_at = c.rejection_reason = None
        c.owner_id = owner
    return world


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def edge_warehouse(request, tmp_path_factory):
    from tests.conftest import create_pg_database, drop_pg_database

    clock = datetime.now(UTC)
    world = edge_world(clock)
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('edge') / 'warehouse.duckdb'}"
    else:
        url = create_pg_database()
    try:
        with sandboxes(world, as_of=clock) as sb:
            hubspot = sb.app("hubspot")
            # the portal never fills its rejected-date property, and a bulk edit an hour ago
            # touched every contact: a rejection's time can only come from the status history
            hubspot.rejected_at_property = "lead_rejected_date_never_filled"
            hubspot.bulk_edit_at = clock - timedelta(hours=1)
            settings = sb.settings(warehouse_url=url, data_dir=tmp_path_factory.mktemp("edge-data"),
                                   http_max_backoff_seconds=0.05)
            pipeline.run(settings, "test")
        yield {"url": url, "world": world, "clock": clock, "built_by": datetime.now(UTC)}
    finally:
        if request.param == "postgresql":
            drop_pg_database(url)


def test_edge_lead_response_equals_truth(edge_warehouse):
    world, clock = edge_warehouse["world"], edge_warehouse["clock"]
    got = _mart(edge_warehouse["url"], "kpi_lead_response", LEAD_KEYS)
    started = _run_started(edge_warehouse["url"])
    assert clock < started < edge_warehouse["built_by"]
    want = truth_sales.kpi_lead_response(world, clock, run_at=started)
    assert diff_rows(got, want, LEAD_KEYS) == []
    # the cut-off is the sync's start, not dbt's run_started_at (later, after the extract)
    assert {r["as_of"] for r in got} == {started}


def test_edge_pending_vs_missed_and_zero_denominators(edge_warehouse):
    clock = edge_warehouse["clock"]
    got = _mart(edge_warehouse["url"], "kpi_lead_response", LEAD_KEYS)

    def week_of(t: datetime) -> date:
        from zoneinfo import ZoneInfo

        d = t.astimezone(ZoneInfo("America/New_York")).date()
        return d - timedelta(days=d.weekday())

    owner = edge_warehouse["world"].owners[0]
    (pending,) = [r for r in got if r["mql_week"] == week_of(clock - timedelta(hours=2))]
    assert (pending["owner_id"], pending["owner_name"], pending["team"]) == (
        owner.owner_id, f"{owner.first_name} {owner.last_name}", owner.team)
    assert (pending["mqls"], pending["touched"], pending["pending"]) == (1, 0, 1)
    assert (pending["within_sla"], pending["missed_sla"]) == (0, 0)
    assert pending["share_within_sla"] is None  # 0 / 0
    assert pending["median_hours_to_first_touch"] is None and pending["p90_hours_to_first_touch"] is None

    (missed,) = [r for r in got if r["owner_id"] == UNKNOWN_OWNER]
    assert missed["mql_week"] == week_of(clock - timedelta(days=30))
    assert (missed["owner_name"], missed["team"]) == (None, "(none)")
    assert (missed["mqls"], missed["touched"], missed["missed_sla"], missed["pending"]) == (1, 0, 1, 0)
    assert missed["share_within_sla"] == 0  # 0 / 1, not NULL
    assert missed["median_hours_to_first_touch"] is None
    assert sum(r["pending"] for r in got) == 1


def test_edge_pipeline_equals_truth(edge_warehouse):
    got = _mart(edge_warehouse["url"], "kpi_pipeline", PIPELINE_KEYS)
    want = truth_sales.kpi_pipeline(edge_warehouse["world"], edge_warehouse["clock"])
    assert diff_rows(got, want, PIPELINE_KEYS) == []


def test_edge_month_without_activity_and_deal_without_contact(edge_warehouse):
    got = _mart(edge_warehouse["url"], "kpi_pipeline", PIPELINE_KEYS)
    world = edge_warehouse["world"]
    assert sorted({r["month"] for r in got}) == [date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1)]
    july = [r for r in got if r["month"] == date(2026, 7, 1)]
    segments = {(r["pipeline"], r["channel"]) for r in got}
    assert {s for s in segments if s[1] == "other"} == {("default", "other")}
    assert len(july) == len(segments)  # every segment has its July row, activity or not
    for r in july:
        assert (r["deals_created"], r["won_deals"], r["lost_deals"]) == (0, 0, 0)
        assert r["pipeline_created"] == 0 and r["won_amount"] == 0 and r["lost_amount"] == 0
        assert r["win_rate"] is None and r["avg_sales_cycle_days"] is None and r["pipeline_velocity"] is None
    # open at the end of July: every deal (all created in June, none closed before August)
    assert sum(r["open_deals_end"] for r in july) == len(world.deals)
    (other_june,) = [r for r in got if r["channel"] == "other" and r["month"] == date(2026, 6, 1)]
    assert other_june["deals_created"] == 1
    aug = [r for r in got if r["month"] == date(2026, 8, 1)]
    assert sum(r["won_deals"] for r in aug) == 1 and sum(r["lost_deals"] for r in aug) == 1
    assert sum(r["open_deals_end"] for r in aug) == len(world.deals) - 2
    won_row = next(r for r in aug if r["won_deals"] == 1)
    assert won_row["pipeline_velocity"] is not None


def test_edge_deal_counts_for_its_first_created_contact(edge_warehouse):
    """The decision in core.fct_deal (docs/metrics.md, kpi_pipeline): of a HubSpot deal's
    associated contacts, the one created first; '1000001' (the later colleague) is the smaller
    text id, so a min() on the text id would pick the colleague and move the deal to 'direct'."""
    world = edge_warehouse["world"]
    (deal,) = [d for d in world.deals if d.committee]
    wh = Warehouse(edge_warehouse["url"])
    try:
        row = wh.fetch_all(
            "select contact_id from core.fct_deal where crm = 'hubspot' and deal_id = :d",
            d=str(deal.deal_id))
        channels = {r["contact_id"]: r["channel"] for r in wh.fetch_all(
            "select contact_id, channel from core.dim_contact where contact_id in (:a, :b)",
            a=str(deal.contact_id), b=str(COMMITTEE_CONTACT))}
    finally:
        wh.dispose()
    assert str(COMMITTEE_CONTACT) < str(deal.contact_id)  # the case a text min() gets wrong
    assert row == [{"contact_id": str(deal.contact_id)}]
    assert channels[str(COMMITTEE_CONTACT)] == "direct" != channels[str(deal.contact_id)]


def test_edge_rejected_at_comes_from_the_status_history(edge_warehouse):
    """dim_contact.rejected_at is when hs_lead_status became UNQUALIFIED (the property's own
    history), never lastmodifieddate: the portal's rejected-date property is empty here and a
    bulk edit moved every contact's lastmodifieddate to an hour before the clock."""
    world, clock = edge_warehouse["world"], edge_warehouse["clock"]
    want = sorted(truth_sales.crm_time(c.rejected_at) for c in world.contacts_as_of(clock)
                  if c.rejected_at is not None and c.rejected_at <= clock)
    wh = Warehouse(edge_warehouse["url"])
    try:
        got = [r["rejected_at"] for r in wh.fetch_all(
            "select rejected_at from core.dim_contact where crm = 'hubspot' and rejected_at is not null")]
        bulk = wh.scalar("select count(*) from core.dim_contact where updated_at = :t",
                         t=truth_sales.crm_time(clock - timedelta(hours=1)))
    finally:
        wh.dispose()
    assert len(want) >= 10
    assert bulk > len(want)  # the bulk edit is in the data: updated_at would have said it
    assert sorted(got) == want
