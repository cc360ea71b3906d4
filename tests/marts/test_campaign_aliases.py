"""A marketer's campaign alias (seeds/campaign_aliases.csv) resolves a utm_campaign no sync saw,
in the marts and in the ground truth alike: the truth reads the same seed (configuration shared
with the pipeline), here a copy of it with the marketer's rows.

One warehouse per engine: a company's first sync comes after two campaigns were renamed, and the
company does not let its ads' URL tags identify campaigns (``REVOPS_URL_TAG_PLATFORMS=[]``;
tests/marts/test_url_tags.py shows the tags resolving the same names), so the old names resolve
to nothing (kpi_unresolved_campaigns lists them); the marketer adds each old name as an alias and
the models are rebuilt on the same raw data."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import text

from revops import pipeline, transform
from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.truth.common import norm
from revops.sandbox.world import World, WorldConfig
from tests.conftest import nightly_warehouse
from tests.db import rows
from tests.kpi_compare import diff_rows, fetch_like

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

#: renames three days before the end; the only sync is at the end: the old names were never seen
WORLD = World(WorldConfig(seed=3, days=21))
UNRESOLVED = "select * from marts.kpi_unresolved_campaigns order by unresolved_rank"
RESOLVED = "select contact_id, utm_campaign, source_platform, source_campaign_id from core.dim_contact"


def _alias_rows(world: World) -> list[dict]:
    """What the marketer writes: each renamed campaign's old name (as the ads' UTM tags carry
    it, in the marketer's own spelling) -> that campaign."""
    return [
        {"alias": f"  {camp.name.upper()}", "platform": camp.platform,
         "campaign_id": camp.campaign_id, "note": "renamed before our first sync"}
        for camp in world.campaigns if camp.renames
    ]


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def aliased(request, tmp_path_factory):
    """The first-sync warehouse before (``before``: its unresolved values and its contacts'
    resolution) and after the marketer's aliases (the published marts); ``aliases``: the copy
    of the seed the truth reads."""
    before: dict = {}

    def look(clock, url):
        before["unresolved"] = rows(url, UNRESOLVED)
        before["contacts"] = {r["contact_id"]: r for r in rows(url, RESOLVED)}
        before["channel_daily"] = rows(url, "select * from marts.kpi_channel_daily")

    with nightly_warehouse(WORLD, request.param, tmp_path_factory, prefix="aliases",
                           clocks=[WORLD.now], after_night=look, url_tag_platforms=[]) as built:
        seed = tmp_path_factory.mktemp("aliases-seed") / "campaign_aliases.csv"
        with (truth.SEEDS / "campaign_aliases.csv").open() as fh:
            header = next(csv.reader(fh))
        with seed.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(_alias_rows(WORLD))
        settings = built["settings"]
        # the seed's table as `dbt seed` leaves it, with the copy's rows; then the models that
        # read it are rebuilt (a full build would seed the packaged, empty file again)
        with Warehouse(built["url"]) as wh, wh.engine.begin() as conn, seed.open() as fh:
            for r in csv.DictReader(fh):
                conn.execute(text("insert into staging.campaign_aliases (alias, platform, campaign_id,"
                                  " note) values (:alias, :platform, :campaign_id, :note)"), r)
        transform.build(settings, select="dim_campaign_alias+")
        pipeline.gate(settings, "aliases")
        pipeline.publish_built(settings)
        yield {**built, "before": before, "aliases": truth.campaign_aliases(seed)}


def test_first_sync_leaves_the_old_names_unresolved(aliased):
    """Without an alias the old names stay unresolved, in the marts and in the truth (which
    reads the packaged seed: empty)."""
    want = truth.kpi_unresolved_campaigns(WORLD, name_clocks=[WORLD.now], url_tags=False)
    got = aliased["before"]["unresolved"]
    assert want and sum(r["leads"] for r in want) > 10
    assert diff_rows(got, want, ("utm_campaign",)) == [] and len(got) == len(want)


def test_alias_resolves_the_formerly_unresolved_values(aliased):
    world, aliases = WORLD, aliased["aliases"]
    assert len(aliases) == len([c for c in world.campaigns if c.renames]) == 2
    want = truth.kpi_unresolved_campaigns(world, name_clocks=[world.now], url_tags=False, aliases=aliases)
    with Warehouse(aliased["url"]) as wh:
        got = wh.fetch_all(UNRESOLVED)
        after = {r["contact_id"]: r for r in wh.fetch_all(RESOLVED)}
    assert want == [] and got == []
    # the contacts behind each formerly unresolved value now resolve to the aliased campaign
    formerly = {r["utm_campaign"] for r in aliased["before"]["unresolved"]}
    moved = [cid for cid, r in aliased["before"]["contacts"].items()
             if r["source_campaign_id"] is None and norm(r["utm_campaign"]) in formerly]
    assert len(moved) == sum(r["contacts"] for r in aliased["before"]["unresolved"])
    for cid in moved:
        platform, campaign_id = aliases[norm(after[cid]["utm_campaign"])]
        assert (after[cid]["source_platform"], after[cid]["source_campaign_id"]) == (platform, campaign_id)


def test_channel_daily_and_coverage_equal_truth_once_aliased(aliased):
    """With every old name aliased, every paid lead resolves to its true campaign: the marts
    equal the truth, which before the aliases they did not."""
    want = truth.kpi_channel_daily(WORLD)
    keys = ("date_day", "platform", "campaign_id", "channel")
    before = [{k: r[k] for k in want[0]} for r in aliased["before"]["channel_daily"]]
    assert diff_rows(before, want, keys) != []
    with Warehouse(aliased["url"]) as wh:
        got = fetch_like(wh, "kpi_channel_daily", want)
        coverage_want = truth.kpi_attribution_coverage(WORLD)
        coverage = fetch_like(wh, "kpi_attribution_coverage", coverage_want)
    assert diff_rows(got, want, keys) == []
    assert diff_rows(coverage, coverage_want, ("month", "channel")) == []
