"""Spend in a currency the ECB has no rate for is an error that names the currency and the
days, never a silent zero, and yesterday's published marts stay as they were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.transform import ModelBuildError

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

# Google Ads UK spends in GBP; 20 days so early rates fall outside the ECB lookback re-read
WORLD = World(WorldConfig(seed=5, days=20, platforms=("meta", "google_ads")))


def test_missing_rate_fails_the_run_naming_currency_and_days(warehouse_url, tmp_path):
    cut = WORLD.start + timedelta(days=4)
    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path, http_max_backoff_seconds=0.02)
        pipeline.run(settings, "test")
        with Warehouse(warehouse_url) as wh:
            published = wh.fetch_all("select * from marts.kpi_channel_daily order by date_day, platform, campaign_id, channel")
            gbp_days = wh.scalar(
                f"select count(*) from core.fct_ad_daily where currency = 'GBP' and date_day <= '{cut}'"
            )
            with wh.engine.begin() as conn:  # the GBP rates of the first days never arrived
                conn.execute(text(f"delete from raw.ecb__rates where currency = 'GBP' and rate_date <= '{cut}'"))
        assert gbp_days > 0 and published
        with pytest.raises(ModelBuildError) as err:
            pipeline.run(settings, "test")
    message = str(err.value)
    assert "fx_rate_exists" in message
    assert "no ECB rate for GBP from" in message
    assert "no ECB rate for USD" not in message and "no ECB rate for EUR" not in message
    with Warehouse(warehouse_url) as wh:
        after = wh.fetch_all("select * from marts.kpi_channel_daily order by date_day, platform, campaign_id, channel")
        status = wh.scalar("select status from ops.runs order by started_at desc limit 1")
    assert after == published
    assert status == "failed"
