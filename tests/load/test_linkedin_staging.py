"""LinkedIn end to end into staging, on both engines: sandbox -> connector -> quality -> Warehouse
-> dbt ``staging.linkedin``; ``stg_linkedin__ad_daily`` must equal the world exactly (ids stripped
from their URNs, UTC days, spend to the cent) and the campaign level must be the campaign group."""

from __future__ import annotations

import pytest

import secrets
from decimal import Decimal


from revops import pipeline
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import settings_from_env
from revops.transform import build
from tests.db import rows as _rows
from revops.sandbox.registry import get_sandbox

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

SANDBOX = get_sandbox("linkedin")

WORLD = World(WorldConfig(seed=5, days=12, platforms=("linkedin",)))


def test_staging_equals_the_world(warehouse_url, tmp_path):
    token = secrets.token_urlsafe(16)
    app = SANDBOX.app(WORLD, token=token)
    with SandboxServer(app) as server:
        settings = settings_from_env(
            SANDBOX.env(server.url, token, WORLD),
            warehouse_url=warehouse_url,
            data_dir=str(tmp_path / "data"),
            http_max_backoff_seconds=0.02,
        )
        wh, run_id = pipeline.prepare(settings, "test")
        result = pipeline.sync_source(settings, wh, run_id, "linkedin")
        wh.dispose()
    assert all(s.rows_quarantined == 0 for s in result.streams)
    build(settings, select="staging.linkedin")

    truth = {
        (r.ad.ad_id, r.day): r for r in WORLD.ad_days_as_of(app.as_of, "linkedin") if r.day >= WORLD.start
    }
    got = {
        (r["ad_id"], r["date_day"]): r
        for r in _rows(warehouse_url, "select * from staging.stg_linkedin__ad_daily")
    }
    assert truth and set(got) == set(truth)
    camps = WORLD.campaign_by_id
    for key, t in truth.items():
        r = got[key]
        assert r["spend_native"] == t.spend, key  # Decimal: the float noise rounded away
        assert r["spend_native"].as_tuple().exponent == -6
        assert (r["impressions"], r["clicks"]) == (t.impressions, t.clicks)
        assert r["platform_conversions"] == Decimal(t.platform_leads)
        assert r["platform_conversion_value"] == 0
        assert (r["platform"], r["account_id"], r["currency"]) == ("linkedin", "508123456", "EUR")
        assert (r["campaign_id"], r["ad_group_id"]) == (t.ad.campaign_id, t.ad.ad_group_id)
        assert r["campaign_name"] == camps[t.ad.campaign_id].name_as_of(app.as_of)
        assert (r["ad_group_name"], r["ad_name"]) == (t.ad.ad_group_name, t.ad.ad_name)
        assert r["_loaded_at"] is not None

    accounts = _rows(warehouse_url, "select * from staging.stg_linkedin__accounts")
    assert accounts == [{
        "platform": "linkedin", "account_id": "508123456", "account_name": "Acme B2B EMEA",
        "currency": "EUR", "timezone": None, "date_day_basis": "utc", "date_day_timezone": "UTC",
    }]
    campaigns = {r["campaign_id"]: r for r in _rows(warehouse_url, "select * from staging.stg_linkedin__campaigns")}
    want = {c.campaign_id: c for c in WORLD.campaigns if c.platform == "linkedin"}
    assert set(campaigns) == set(want)
    for cid, c in want.items():
        assert campaigns[cid]["campaign_name"] == c.name_as_of(app.as_of)
        assert campaigns[cid]["objective"] == "LEAD_GENERATION"
        assert campaigns[cid]["updated_at"].tzinfo is not None
    assert {r["status"] for r in campaigns.values()} == {"ACTIVE", "ARCHIVED"}

    # the core layer unions platforms: the types must be the agreed ones on either engine
    types = {
        (r["table_name"], r["column_name"]): r["data_type"].lower()
        for r in _rows(
            warehouse_url,
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name like 'stg_linkedin%'",
        )
    }
    agreed = {"varchar": {"varchar", "character varying"}, "decimal": {"decimal(18,6)", "numeric"},
              "bigint": {"bigint"}, "date": {"date"},
              "timestamptz": {"timestamp with time zone"}}
    expect = {
        "spend_native": "decimal", "platform_conversions": "decimal",
        "platform_conversion_value": "decimal", "impressions": "bigint", "clicks": "bigint",
        "date_day": "date", "_loaded_at": "timestamptz", "updated_at": "timestamptz",
    }
    for (table, column), data_type in types.items():
        assert data_type in agreed[expect.get(column, "varchar")], (table, column, data_type)
