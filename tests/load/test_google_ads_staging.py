"""Google Ads end to end into staging, on DuckDB and PostgreSQL: sandbox -> connector (real HTTP)
-> quality split -> Warehouse -> dbt staging, compared exactly to the world.

One dbt build per engine (select ``staging.google_ads``)."""

from __future__ import annotations

import pytest

from datetime import timedelta
from decimal import Decimal

from revops import pipeline
from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.transform import build

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("google_ads")

WORLD = World(WorldConfig(seed=5, days=12))
TOKEN = "staging-refresh-token-9c1d"


def test_staging_equals_the_world_on_both_engines(warehouse_url, tmp_path):
    app = SANDBOX.app(WORLD, token=TOKEN)
    # a provisional first run, then the final numbers: staging must show the restated values
    app.as_of = WORLD.now - timedelta(days=3)
    with SandboxServer(app) as server:
        settings = settings_from_env(
            SANDBOX.env(server.url, TOKEN, WORLD),
            warehouse_url=warehouse_url, data_dir=tmp_path, http_max_backoff_seconds=0.02,
        )
        wh, run_id = pipeline.prepare(settings, "test")
        pipeline.sync_source(settings, wh, run_id, "google_ads")
        app.as_of = WORLD.now
        result = pipeline.sync_source(settings, wh, run_id, "google_ads")
        wh.dispose()
    assert all(s.rows_quarantined == 0 for s in result.streams)
    build(settings, select="staging.google_ads")

    rows = wh.fetch_all(
        "select platform, account_id, campaign_id, campaign_name, ad_group_id, ad_group_name, ad_id, "
        "ad_name, date_day, currency, spend_native, impressions, clicks, platform_conversions, "
        "platform_conversion_value, _loaded_at from staging.stg_google_ads__ad_daily"
    )
    truth = {(r.ad.ad_id, r.day): r for r in WORLD.ad_days_as_of(WORLD.now, "google_ads")}
    got = {(r["ad_id"], r["date_day"]): r for r in rows}
    assert len(rows) == len(got) == len(truth)
    assert set(got) == set(truth)
    currency = {a.account_id: a.currency for a in WORLD.accounts if a.platform == "google_ads"}
    for key, t in truth.items():
        g = got[key]
        assert g["spend_native"] == t.spend, key  # to the cent, restated value
        assert isinstance(g["spend_native"], Decimal)
        assert (g["impressions"], g["clicks"]) == (t.impressions, t.clicks), key
        assert g["platform_conversions"] == Decimal(t.platform_leads), key
        assert g["platform_conversion_value"] == 0  # omitted on the wire -> 0
        assert (g["platform"], g["account_id"], g["campaign_id"]) == ("google_ads", t.ad.account_id, t.ad.campaign_id)
        assert (g["ad_group_id"], g["ad_group_name"], g["ad_name"]) == (t.ad.ad_group_id, t.ad.ad_group_name, t.ad.ad_name)
        assert g["currency"] == currency[t.ad.account_id]
        assert g["campaign_name"] == WORLD.campaign_by_id[t.ad.campaign_id].name_as_of(WORLD.now)
        assert g["_loaded_at"] is not None

    accounts = wh.fetch_all("select * from staging.stg_google_ads__accounts order by account_id")
    assert accounts == [
        {"platform": "google_ads", "account_id": "2718281828", "account_name": "Acme Search UK",
         "currency": "GBP", "timezone": "Europe/London", "date_day_basis": "account",
         "date_day_timezone": "Europe/London"},
        {"platform": "google_ads", "account_id": "4815162342", "account_name": "Acme Search US",
         "currency": "USD", "timezone": "America/New_York", "date_day_basis": "account",
         "date_day_timezone": "America/New_York"},
    ]
    campaigns = wh.fetch_all("select * from staging.stg_google_ads__campaigns")
    assert {c["campaign_id"]: c["campaign_name"] for c in campaigns} == {
        c.campaign_id: c.name_as_of(WORLD.now) for c in WORLD.campaigns if c.platform == "google_ads"
    }
    assert {(c["objective"], c["status"], c["updated_at"]) for c in campaigns} == {("SEARCH", "ENABLED", None)}
    assert _types(wh, "stg_google_ads__ad_daily") == AD_DAILY_TYPES
    assert _types(wh, "stg_google_ads__campaigns")["updated_at"] == "timestamptz"
    wh.dispose()


#: the column types the core layer's union relies on (same on both engines)
AD_DAILY_TYPES = {
    **{c: "varchar" for c in ("platform", "account_id", "campaign_id", "campaign_name", "ad_group_id",
                              "ad_group_name", "ad_id", "ad_name", "currency")},
    "date_day": "date", "spend_native": "decimal(18,6)", "impressions": "bigint", "clicks": "bigint",
    "platform_conversions": "decimal(18,6)", "platform_conversion_value": "decimal(18,6)",
    "_loaded_at": "timestamptz",
}
NORMAL = {"character varying": "varchar", "text": "varchar", "numeric": "decimal", "integer": "int",
          "timestamp with time zone": "timestamptz", "timestamp with time zone ": "timestamptz"}


def _types(wh, table: str) -> dict[str, str]:
    rows = wh.fetch_all(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = 'staging' and table_name = :t",
        t=table,
    )
    out = {}
    for r in rows:
        kind = str(r["data_type"]).lower()
        kind = NORMAL.get(kind, kind)
        if kind.startswith("decimal"):
            kind = f"decimal({r['numeric_precision']},{r['numeric_scale']})"
        out[r["column_name"]] = kind
    return out
