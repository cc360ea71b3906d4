"""Microsoft Advertising: sandbox -> connector -> warehouse -> dbt staging, on DuckDB and
PostgreSQL; ``stg_microsoft_ads__ad_daily`` must equal the world's rows exactly (UTC days,
spend to the cent, ids). One dbt build per engine."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("microsoft_ads")

TOKEN = "staging-test-refresh-token"
ACCOUNT = "180456789"


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(days=20, platforms=("microsoft_ads",)))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token=TOKEN)) as srv:
        yield srv


def test_staging_equals_the_world_on_both_engines(server, world, warehouse_url, tmp_path):
    app = server.app
    from revops import pipeline
    from revops.transform import build

    settings = settings_from_env(
        SANDBOX.env(server.url, TOKEN, world), warehouse_url=warehouse_url,
        data_dir=tmp_path / "data", http_max_backoff_seconds=0.05,
    )
    wh, run_id = pipeline.prepare(settings, "test")
    result = pipeline.sync_source(settings, wh, run_id, "microsoft_ads")
    assert all(s.rows_quarantined == 0 for s in result.streams)
    wh.dispose()
    build(settings, select="staging.microsoft_ads")

    rows = wh.fetch_all(
        "select account_id, campaign_id, campaign_name, ad_group_id, ad_group_name, ad_id, ad_name,"
        " date_day, currency, spend_native, impressions, clicks, platform_conversions,"
        " platform_conversion_value, platform from staging.stg_microsoft_ads__ad_daily"
    )
    got = {(r["ad_id"], r["date_day"]): r for r in rows}
    want = {(r.ad.ad_id, r.day): r for r in world.ad_days_as_of(app.as_of, "microsoft_ads")}
    assert len(rows) == len(got) and set(got) == set(want)
    names = {c.campaign_id: c.current_name for c in world.campaigns}
    for key, truth in want.items():
        r = got[key]
        assert Decimal(str(r["spend_native"])) == truth.spend, key
        assert (r["impressions"], r["clicks"]) == (truth.impressions, truth.clicks)
        assert Decimal(str(r["platform_conversions"])) == truth.platform_leads
        assert Decimal(str(r["platform_conversion_value"])) == 0
        assert (r["account_id"], r["campaign_id"], r["ad_group_id"]) == (
            truth.ad.account_id, truth.ad.campaign_id, truth.ad.ad_group_id)
        assert (r["campaign_name"], r["ad_group_name"], r["ad_name"]) == (
            names[truth.ad.campaign_id], truth.ad.ad_group_name, truth.ad.ad_name)
        assert (r["currency"], r["platform"]) == ("USD", "microsoft_ads")

    (acct,) = wh.fetch_all("select * from staging.stg_microsoft_ads__accounts")
    assert acct == {
        "platform": "microsoft_ads", "account_id": ACCOUNT, "account_name": "Acme Bing US",
        "currency": "USD", "timezone": "America/Los_Angeles", "date_day_basis": "utc",
        "date_day_timezone": "UTC",
    }
    campaigns = wh.fetch_all("select * from staging.stg_microsoft_ads__campaigns")
    assert {(c["campaign_id"], c["campaign_name"], c["objective"]) for c in campaigns} == {
        (c.campaign_id, c.current_name, "Search") for c in world.campaigns if c.platform == "microsoft_ads"
    }
    assert all(c["updated_at"] is None and c["status"] == "Active" for c in campaigns)
    wh.dispose()
