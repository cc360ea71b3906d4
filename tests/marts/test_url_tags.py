"""Campaign identity through the ads' own URL tags (issue 16), on DuckDB and PostgreSQL.

A company whose first sync comes after a campaign was renamed: its contacts carry the campaign's
OLD name in ``utm_campaign`` (baked into the ad URLs when the ads were made), and no sync ever
saw that name, so neither the id, the names nor the name history resolve it. The ads still carry
it: Meta creatives' ``url_tags``, Google Ads ads' ``final_url_suffix`` and Microsoft Advertising
ads' ``FinalUrlSuffix``, read by the connectors (``meta.ads``, ``google_ads.ad_url_tags``, the
``microsoft_ads.ad_performance`` report). One night, real HTTP to the sandboxes, the real
pipeline: the leads that used to be unattributed are attributed to their campaign, and the marts
equal the sandbox's ground truth, whose resolution rule (``truth.shared.lead_source_resolver``)
is computed from the world's own objects.
"""

from __future__ import annotations

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.truth import attribution as truth_attribution, funnel as truth_funnel
from revops.sandbox.truth.common import norm
from revops.sandbox.truth.shared import lead_source_resolver
from revops.sandbox.world import World, WorldConfig
from tests.conftest import nightly_warehouse
from tests.kpi_compare import diff_rows, fetch_like
from tests.sources.hubspot_ids import hs_id

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

#: renames a Meta and a Google Ads campaign three days before its end (WorldConfig's default)
WORLD = World(WorldConfig(seed=8, days=40, contacts_per_campaign_day=0.8))
#: the company's first (and only) sync: after the renames
CLOCK = WORLD.now
RENAMED = [c for c in WORLD.campaigns if c.renames]


OLD_NAMES = {norm(c.name) for c in RENAMED}
#: live contacts of a renamed campaign whose utm_campaign is its old name (no sync saw it)
CARRIERS = [c for c in WORLD.contacts_as_of(CLOCK)
            if c.source_campaign in RENAMED and norm(c.utm_campaign) in OLD_NAMES]


def test_the_scenario_is_in_the_world() -> None:
    """Guards the premises: without them the tests below would prove nothing."""
    assert {c.platform for c in RENAMED} == {"meta", "google_ads"}
    assert all(at < CLOCK for c in RENAMED for at, _ in c.renames), "renamed before the first sync"
    assert sum(1 for c in CARRIERS if c.stage_as_of("lead", CLOCK)) >= 10
    # by the rule without URL tags these leads stay unresolved, with the tags none does
    without = truth.kpi_unresolved_campaigns(WORLD, CLOCK, name_clocks=[CLOCK], url_tags=False)
    assert {r["utm_campaign"] for r in without} == OLD_NAMES
    assert truth.kpi_unresolved_campaigns(WORLD, CLOCK, name_clocks=[CLOCK]) == []
    # the truth's marts credit each paid contact and touch to its true campaign: the resolution
    # rule really gives that campaign for every value the CRM holds
    resolve = lead_source_resolver(WORLD, CLOCK, name_clocks=[CLOCK])
    for c in WORLD.contacts_as_of(CLOCK):
        want = (c.source_campaign.platform, c.source_campaign.campaign_id) if c.source_campaign else None
        assert resolve(c.utm_campaign) == want, c.contact_id
    for t in WORLD.touches:
        assert resolve(t.utm_campaign) == (t.campaign.platform, t.campaign.campaign_id), t.touch_id
    # ads tag by name and by id (macros), and a renamed campaign's old name is on its ads
    values = set(WORLD.ad_utm_campaign.values())
    assert {c.campaign_id for c in WORLD.campaigns} & values
    assert {c.name for c in RENAMED} <= values


def _snapshot(url: str) -> dict:
    wh = Warehouse(url)
    try:
        return {
            "tags": wh.fetch_all(
                "select platform, campaign_id, ad_id, utm_campaign, utm_campaign_key, url_tags"
                " from staging.stg_meta__ad_url_tags union all"
                " select platform, campaign_id, ad_id, utm_campaign, utm_campaign_key, url_tags"
                " from staging.stg_google_ads__ad_url_tags union all"
                " select platform, campaign_id, ad_id, utm_campaign, utm_campaign_key, url_tags"
                " from staging.stg_microsoft_ads__ad_url_tags"),
            "names_seen": {r["campaign_name"] for r in wh.fetch_all(
                "select campaign_name from core.dim_campaign_name_history")},
            "contacts": {r["contact_id"]: r for r in wh.fetch_all(
                "select contact_id, source_platform, source_campaign_id from core.dim_contact")},
            "unresolved": wh.fetch_all("select * from marts.kpi_unresolved_campaigns"),
            **{m: fetch_like(wh, m, want) for m, want in _TRUTH.items()},
        }
    finally:
        wh.dispose()


_TRUTH = {
    "kpi_channel_daily": truth.kpi_channel_daily(WORLD, CLOCK),
    "kpi_funnel_monthly": truth_funnel.kpi_funnel_monthly(WORLD, CLOCK),
    "kpi_attribution_coverage": truth.kpi_attribution_coverage(WORLD, CLOCK),
    "kpi_attribution": truth_attribution.kpi_attribution(WORLD, CLOCK),
}
_KEYS = {
    "kpi_channel_daily": ("date_day", "platform", "campaign_id", "channel"),
    "kpi_funnel_monthly": ("cohort_month", "channel", "campaign_id"),
    "kpi_attribution_coverage": ("month", "channel"),
    "kpi_attribution": ("month", "model", "platform", "campaign_id"),
}


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def first_sync(request, tmp_path_factory) -> dict:
    """One night at the world's clock, after the renames (one build per engine)."""
    seen: dict = {}
    with nightly_warehouse(WORLD, request.param, tmp_path_factory, prefix="urltags", clocks=[CLOCK],
                           after_night=lambda clock, url: seen.update(_snapshot(url))):
        pass
    return seen


def test_staging_url_tags_are_the_ads_own(first_sync) -> None:
    """Every Meta, Google Ads and Microsoft Advertising ad with the utm_campaign its URL tags
    carry: the name as typed (decoded from %20 / +) or, from the {{campaign.id}} / {campaignid} /
    {CampaignId} macro, its campaign's id."""
    got = {(r["platform"], r["campaign_id"], r["ad_id"], r["utm_campaign"]) for r in first_sync["tags"]}
    want = {(ad.platform, ad.campaign_id, ad_id, value)
            for ad_id, value in WORLD.ad_utm_campaign.items() for ad in [WORLD.ad_by_id[ad_id]]}
    assert got == want
    assert all(r["utm_campaign_key"] == norm(r["utm_campaign"]) for r in first_sync["tags"])
    macros = [r for r in first_sync["tags"] if r["utm_campaign"] == r["campaign_id"]]
    assert macros and all("{" in r["url_tags"] for r in macros)
    assert {r["platform"] for r in macros} == {"meta", "google_ads", "microsoft_ads"}


def test_previously_unattributed_leads_are_attributed(first_sync) -> None:
    """No sync saw the old names, yet every contact carrying one resolves to its campaign."""
    assert not OLD_NAMES & {norm(n) for n in first_sync["names_seen"]}
    contacts = first_sync["contacts"]
    for c in CARRIERS:
        row = contacts[hs_id(WORLD, c.contact_id, CLOCK)]
        assert (row["source_platform"], row["source_campaign_id"]) == (
            c.source_campaign.platform, c.source_campaign.campaign_id), c.contact_id
    assert first_sync["unresolved"] == []


@pytest.mark.parametrize("mart", list(_TRUTH))
def test_marts_equal_the_truth(first_sync, mart: str) -> None:
    want = _TRUTH[mart]
    assert want, f"{mart}: the truth must have rows"
    got = first_sync[mart]
    assert len(got) == len(want), mart
    assert diff_rows(got, want, _KEYS[mart]) == [], mart
