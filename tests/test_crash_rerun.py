"""A run that dies mid-stream publishes nothing; the rerun gives the same warehouse as a clean
run (no duplicates, marts equal to ground truth), on DuckDB and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.errors import FatalAPIError
from tests.kpi_compare import diff_rows, fetch_like

# one night after a crash: no campaign renames (the nightly replay of renames is tested elsewhere)
WORLD = World(WorldConfig(seed=13, days=40, rename_campaigns=False))
META_ROWS = sum(1 for r in WORLD.ad_days if r.ad.platform == "meta")
KEYS = ("date_day", "platform", "campaign_id", "channel")


pytestmark = pytest.mark.slow


# the DuckDB half is the pipeline run `make test-fast` keeps: a crash, a resume, ground truth
@pytest.mark.parametrize("warehouse_url", [pytest.param("duckdb", marks=pytest.mark.smoke), "postgresql"],
                         indirect=True)
def test_crash_mid_stream_then_rerun(warehouse_url, tmp_path):
    with sandboxes(WORLD) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path,
                            http_max_backoff_seconds=0.05, meta_page_size=50)
        # the token dies after 5 insights pages: some windows are loaded, the rest are not
        sb.app("meta").faults.add("expired_token", path="/insights", after=5)
        wh, run_id = pipeline.prepare(settings, "test")
        with pytest.raises(FatalAPIError):
            pipeline.sync_source(settings, wh, run_id, "meta")
        wh.finish_run(run_id, "failed", "token")
        partial = wh.scalar('select count(*) from raw."meta__ads_insights"')
        saved = wh.get_state("meta", "ads_insights")
        assert 0 < partial < META_ROWS
        assert saved is not None  # completed windows were checkpointed with their rows
        assert not wh.table_exists("marts", "kpi_channel_daily")  # nothing was published
        wh.dispose()

        # the rerun resumes from the saved state and completes
        run_id = pipeline.run(settings, "test").run_id
    wh = Warehouse(warehouse_url)
    resumed = wh.fetch_all(
        "select state_before from ops.run_streams where run_id = :r and stream = 'ads_insights'", r=run_id
    )
    assert json.loads(resumed[0]["state_before"]) == saved
    assert wh.scalar('select count(*) from raw."meta__ads_insights"') == META_ROWS
    dupes = wh.scalar('select count(*) - count(distinct ad_id || date_start) from raw."meta__ads_insights"')
    assert dupes == 0
    want = truth.kpi_channel_daily(WORLD)
    assert diff_rows(fetch_like(wh, "kpi_channel_daily", want), want, KEYS) == []
    wh.dispose()
