"""Marketing touches and multi-touch attribution equal the sandbox's ground truth on both engines."""

from __future__ import annotations

import pytest

from collections import Counter
from decimal import Decimal

from revops.load.warehouse import Warehouse
from revops.sandbox.truth import attribution as truth_attribution
from revops.sandbox.truth.sales import crm_time
from tests.kpi_compare import diff_rows, fetch_like
from tests.sources.hubspot_ids import MERGED_ID_BASE, MERGED_ID_STEP

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow


def world_id(hubspot_id: str) -> int:
    """The world person behind a HubSpot record id (a merge mints ids per the sandbox README)."""
    n = int(hubspot_id)
    return n % MERGED_ID_STEP if n >= MERGED_ID_BASE else n


def test_fct_touch_is_each_persons_first_response_per_campaign(built_warehouse):
    world = built_warehouse["world"]
    with Warehouse(built_warehouse["url"]) as wh:
        rows = wh.fetch_all("select contact_id, campaign_id, touched_at, is_resolved from core.fct_touch")
    got = Counter((world_id(r["contact_id"]), r["campaign_id"], r["touched_at"]) for r in rows)
    want = Counter(
        (c.contact_id, t.campaign.campaign_id, crm_time(t.at))
        for c in world.contacts_as_of(world.now)
        for t in world.person_touches(c, world.now)
    )
    assert all(r["is_resolved"] for r in rows)  # every world touch names a known campaign
    assert sum(got.values()) == sum(want.values()) > 0
    assert got == want
    # the world really has what the grain protects against: duplicates' touches on the survivor
    merged = [c for c in world.contacts_as_of(world.now) if c.merged_ids_as_of(world.now, world)]
    assert any(
        t.contact_id != c.contact_id for c in merged for t in world.person_touches(c, world.now)
    )


def test_kpi_attribution_equals_truth(built_warehouse):
    world = built_warehouse["world"]
    want = truth_attribution.kpi_attribution(world)
    with Warehouse(built_warehouse["url"]) as wh:
        got = fetch_like(wh, "kpi_attribution", want)
    assert diff_rows(got, want, ("month", "model", "platform", "campaign_id")) == []
    # the models really differ on this data: paths of three touches or more exist, and every
    # model hands out the same total
    won = [d for d in world.deals_as_of(world.now) if d.is_won and d.is_closed_as_of(world.now)]
    lengths = Counter(len(truth_attribution.touches_before_deal(world, d, world.now)) for d in won)
    assert any(n >= 3 for n in lengths), lengths
    totals = {m: sum((r["attributed_revenue"] for r in want if r["model"] == m), Decimal(0))
              for m in truth_attribution.MODELS}
    assert len({round(v, 6) for v in totals.values()}) == 1
    # every won deal is accounted for: each model hands out all won revenue, what no campaign
    # can take on the explicit unattributed row (deals whose person had no touch before them)
    all_won = sum((d.amount for d in won), Decimal(0))
    for model in truth_attribution.MODELS:
        got_total = sum((Decimal(str(r["attributed_revenue"])) for r in got if r["model"] == model),
                        Decimal(0))
        assert abs(got_total - all_won) < Decimal("0.01"), model
    unattributed = [r for r in got if r["campaign_id"] == "(unattributed)"]
    assert unattributed and {r["platform"] for r in unattributed} == {"(none)"}
    assert {r["channel"] for r in unattributed} == {"unattributed"}
    assert any(n == 0 for n in lengths)  # the world has won deals without a touch
    by_model = {m: {(r["month"], r["campaign_id"]): r["attributed_revenue"] for r in want if r["model"] == m}
                for m in truth_attribution.MODELS}
    assert by_model["first_touch"] != by_model["last_touch"] != by_model["u_shaped"]
    assert any(r["roas"] is None for r in want)  # credited without spend that month


def test_weights():
    w = truth_attribution.weights
    assert w("u_shaped", 1) == [1]
    assert w("u_shaped", 2) == [Decimal("0.5")] * 2
    assert w("u_shaped", 4) == [Decimal("0.4"), Decimal("0.1"), Decimal("0.1"), Decimal("0.4")]
    assert w("linear", 4) == [Decimal("0.25")] * 4
    assert w("first_touch", 3) == [1, 0, 0] and w("last_touch", 3) == [0, 0, 1]
