"""One person once across CRMs: a company keeps its funnel in HubSpot AND Salesforce, and a share
of its people are in both (same email; the second record created later, its stages a later
prefix of the person's). core.dim_contact has a row per CRM record, core.dim_person one per
person, and every people mart equals the ground truth, which counts each person of the world
once, on DuckDB and PostgreSQL.

The shared mart tests are reused as they are: this module's ``built_warehouse`` overrides the
session fixture with the two-CRM world, so every imported test runs against it (one build per
engine, one night: the world renames no campaign).
"""

from __future__ import annotations

from collections import Counter

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox.harness import uses
from revops.sandbox.servers.salesforce import sf_id
from revops.sandbox.truth import attribution as truth_attribution
from revops.sandbox.truth import sales as truth_sales
from revops.sandbox.world import Contact, World, WorldConfig
from tests.conftest import nightly_warehouse
from tests.kpi_compare import diff_rows, fetch_like
from tests.marts.test_funnel_marts import (  # noqa: F401 - reused against this module's warehouse
    funnel,
    test_lead_quality_decisions_and_no_rejection,
    test_mart_equals_truth,
    test_totals_reconcile_to_core,
)
from tests.marts.test_sales_marts import (  # noqa: F401
    LEAD_KEYS,
    _mart,
    _run_started,
    test_lead_response_rows_add_up,
    test_pipeline_equals_truth,
    test_reconciliations,
)
from tests.marts.test_shared_marts import (  # noqa: F401
    test_attribution_coverage_equals_truth,
    test_channel_daily_accounts_for_every_lead_and_won_deal,
    test_scorecard_equals_truth_month_by_month,
    test_targets_vs_actual_equals_truth,
)

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

BOTH_CRMS_WORLD = {"seed": 21, "days": 30, "contacts_per_campaign_day": 0.5,
                   "crms": ("hubspot", "salesforce"), "overlap_share": 0.4,
                   "rename_campaigns": False}


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def built_warehouse(request, tmp_path_factory):
    """Like the session's ``built_warehouse``, for the company on both CRMs (one night)."""
    world = World(WorldConfig(**BOTH_CRMS_WORLD))
    assert uses(world, "salesforce") and uses(world, "hubspot") and world.twins
    with nightly_warehouse(world, request.param, tmp_path_factory, "both-crms") as built:
        yield built


def _records_by_crm(world: World) -> Counter:
    """CRM records the world's CRMs hold at its clock, by CRM (a person in both counts twice)."""
    return Counter(c.crm for c in world.crm_records_as_of(world.now))


def test_people_are_fewer_than_crm_records(built_warehouse):
    world = built_warehouse["world"]
    now = world.now
    with Warehouse(built_warehouse["url"]) as wh:
        records = {r["crm"]: r["n"] for r in wh.fetch_all(
            "select crm, count(*) as n from core.dim_contact group by crm")}
        people = wh.scalar("select count(*) from core.dim_person")
        in_both = wh.scalar("select count(*) from core.dim_person where crm_records = 2")
        more = wh.scalar("select count(*) from core.dim_person where crm_records > 2")
        deals = {r["crm"]: r["n"] for r in wh.fetch_all(
            "select crm, count(*) as n from core.fct_deal group by crm")}
        mart_leads = wh.scalar("select sum(leads) from marts.kpi_funnel_monthly")
    assert records == dict(_records_by_crm(world))
    # a person is in the warehouse once any of their records exists at the clock
    seen = [len([r for r in world.records_of(c) if r.visible(now)]) for c in world.contacts]
    assert people == sum(1 for n in seen if n) < sum(records.values())
    assert in_both == sum(1 for n in seen if n == 2) > 0 and more == 0
    home = {c.contact_id: c.crm for c in world.contacts}
    assert deals == dict(Counter(home[d.contact_id] for d in world.deals_as_of(now)))
    lead_people = sum(1 for c in world.contacts_as_of(now) if c.stage_as_of("lead", now))
    lead_records = sum(1 for c in world.crm_records_as_of(now) if c.stage_as_of("lead", now))
    assert mart_leads == lead_people < lead_records


def test_person_in_both_crms_takes_each_stage_from_whichever_record_had_it_first(built_warehouse):
    """A person's records disagree: a later twin enters every stage later, or a twin that came
    first is the lead first while the person's own record has the MQL. The person's row takes
    each stage time from whichever record has the earliest, and its lead source, owner and ids
    from the record created first."""
    world = built_warehouse["world"]
    now = world.now
    with Warehouse(built_warehouse["url"]) as wh:
        rows = wh.fetch_all(
            "select p.crm, p.lead_at, p.mql_at, f.lead_at as first_lead_at, f.mql_at as first_mql_at,"
            " o.lead_at as other_lead_at, o.mql_at as other_mql_at"
            " from core.dim_person p"
            " join core.dim_contact f on f.crm = p.crm and f.contact_id = p.contact_id"
            " join core.dim_contact o on o.person_key = p.person_key and o.crm <> p.crm"
            " where p.crm_records = 2")
    overlapping = [c for c in world.contacts_as_of(now)
                   if len([r for r in world.records_of(c) if r.visible(now)]) == 2]
    first_crm = Counter([r for r in world.records_of(c) if r.visible(now)][0].crm for c in overlapping)
    assert Counter(r["crm"] for r in rows) == first_crm and len(first_crm) == 2

    def earliest(a, b):
        return min((t for t in (a, b) if t is not None), default=None)

    for r in rows:
        assert r["lead_at"] == earliest(r["first_lead_at"], r["other_lead_at"])
        assert r["mql_at"] == earliest(r["first_mql_at"], r["other_mql_at"])
    # both directions happen: the record created first is not always the first lead or MQL
    assert any(r["other_lead_at"] is not None and r["first_lead_at"] is not None
               and r["other_lead_at"] < r["first_lead_at"] for r in rows)
    assert any(r["other_mql_at"] is not None and r["first_mql_at"] is None for r in rows)
    assert any(r["first_lead_at"] is not None and r["other_lead_at"] is not None
               and r["first_lead_at"] < r["other_lead_at"] for r in rows)


def _owner_in_first_crm(world: World, c: Contact) -> str | None:
    """The owner id as the CRM of the person's first-created record shows it (both records have
    the same owner; each CRM names users its own way)."""
    crm = [r for r in world.records_of(c) if r.visible(world.now)][0].crm
    return sf_id("005", c.owner_id) if crm == "salesforce" else c.owner_id


def test_lead_response_counts_each_person_once(built_warehouse):
    url, world = built_warehouse["url"], built_warehouse["world"]
    got = _mart(url, "kpi_lead_response", LEAD_KEYS)
    want = truth_sales.kpi_lead_response(world, run_at=_run_started(url), owner_id_of=lambda c: _owner_in_first_crm(world, c))
    assert len(got) == len(want) > 10
    assert diff_rows(got, want, LEAD_KEYS) == []


def test_attribution_equals_truth(built_warehouse):
    """A deal lives in its person's own CRM and is credited over that person's touches."""
    world = built_warehouse["world"]
    want = truth_attribution.kpi_attribution(world)
    with Warehouse(built_warehouse["url"]) as wh:
        got = fetch_like(wh, "kpi_attribution", want)
    assert len(got) == len(want) > 0
    assert diff_rows(got, want, ("month", "model", "platform", "campaign_id")) == []
