"""One broken source degrades the run, it does not freeze it, and a killed run never leaves half
a publish (issue 13), on both engines, over ONE shared warehouse per engine (three full and one
partial dbt build):

0. three runs in a child process killed with ``kill -9`` (their whole process group): during
   extraction (after a few Meta insights pages), during ``dbt build``, after dbt (in the quality
   gate or the publish). No mart half-published: absent, or whole and true;
1. clock A: a clean run resumes from the checkpoints, marks the killed runs ``abandoned``; the
   marts equal the ground truth at A, no duplicate raw rows, every source fresh;
2. clock B (later): Meta's token is revoked and HubSpot is down (500 on every request, after the
   client's retries). The run ends ``completed_with_warnings``. Today's build holds every other
   ad platform as of B and Meta's last good raw data (as of A), nothing lost nor duplicated
   (compared to ground truth in ``marts_build``); the CRM rule holds every mart that reads
   HubSpot at night 1's version, row for row, and ``marts.kpi_data_freshness`` publishes both
   sources stale. A failed ad platform alone holds nothing (the same run's dbt lineage).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests import pg
from tests.faults import killing
from tests.kpi_compare import diff_rows, fetch_like

pytestmark = [pytest.mark.slow, pytest.mark.faults]

# no renames: a campaign's name is the same at A and B, so only the degraded source differs
WORLD = World(WorldConfig(seed=21, days=30, rename_campaigns=False))
CLOCK_B = WORLD.now
CLOCK_A = CLOCK_B - timedelta(days=6)
META_ROWS_A = sum(1 for _ in WORLD.ad_days_as_of(CLOCK_A, "meta"))
KEYS = ("date_day", "platform", "campaign_id", "channel")
#: the ad side has one row per day and campaign (its leads may add an unattributed row per channel)
AD_KEYS = ("date_day", "platform", "campaign_id")
AD_COLS = ("spend", "impressions", "clicks")


def ad_side(clocks: dict[str, object], default) -> list[dict]:
    """Ground truth of the ad columns of kpi_channel_daily (spend in the reporting currency,
    impressions, clicks per day, platform, campaign) when each platform's data stopped at its
    clock in ``clocks`` (its last good sync) and the others at ``default``; rates as published at
    ``default`` (the ECB synced). Straight from the world, independent of the SQL."""
    cfg = truth.TruthConfig()
    rows: dict[tuple, dict] = {}
    for platform in WORLD.ad_platforms:
        for ad_day in WORLD.ad_days_as_of(clocks.get(platform, default), platform):
            key = (ad_day.day, platform, ad_day.ad.campaign_id)
            r = rows.setdefault(key, {**dict(zip(AD_KEYS, key, strict=True)), "spend": Decimal(0),
                                      "impressions": 0, "clicks": 0})
            r["spend"] += truth.spend_reporting(WORLD, ad_day, default, cfg.reporting_currency)
            r["impressions"] += ad_day.impressions
            r["clicks"] += ad_day.clicks
    return [r for r in rows.values() if r["spend"] or r["impressions"] or r["clicks"]]


def _freshness(wh) -> dict[str, dict]:
    return {r["source"]: r for r in wh.fetch_all("select * from marts.kpi_data_freshness")}


AD_SQL = ("select date_day, platform, campaign_id, spend, impressions, clicks from {t} "
          "where spend <> 0 or impressions <> 0 or clicks <> 0")


def _night(wh_url, settings, sb, clock):
    sb.set_clock(clock)
    result = pipeline.run(settings, "test")
    wh = Warehouse(wh_url)
    snap = {
        "result": result,
        "channel": wh.fetch_all("select * from marts.kpi_channel_daily"),
        "funnel": wh.fetch_all("select * from marts.kpi_funnel_monthly"),
        "built_ad_side": wh.fetch_all(AD_SQL.format(t="marts_build.kpi_channel_daily")),
        "freshness": _freshness(wh),
        "run": wh.fetch_all("select status, message from ops.runs where run_id = :r", r=result.run_id)[0],
        "meta_raw": wh.scalar('select count(*) from raw."meta__ads_insights"'),
        "meta_raw_distinct": wh.scalar(
            'select count(distinct ad_id || date_start) from raw."meta__ads_insights"'),
    }
    wh.dispose()
    return snap


def _state(url: str) -> dict:
    wh = Warehouse(url)
    try:
        meta = (wh.scalar('select count(*) from raw."meta__ads_insights"')
                if wh.table_exists("raw", "meta__ads_insights") else 0)
        published = wh.table_exists("marts", "kpi_channel_daily")
        return {
            "runs": [r["status"] for r in wh.fetch_all("select status from ops.runs order by started_at")],
            "meta": meta,
            "published": published,
            "channel": wh.fetch_all("select * from marts.kpi_channel_daily") if published else None,
        }
    finally:
        wh.dispose()


def _kill_three_times(url: str, sb, data_dir) -> list[dict]:
    """Three real runs (child processes) killed at three points; the warehouse after each."""
    env = {**sb.env, "REVOPS_WAREHOUSE_URL": url, "REVOPS_DATA_DIR": str(data_dir),
           "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.05", "REVOPS_META_PAGE_SIZE": "50"}
    out = []
    # 1. mid-extraction: once Meta served its 6th insights page
    proc = killing.start(env, data_dir)
    meta = sb.app("meta")
    killing.wait_for(lambda: len(meta.requests_to("/insights")) >= 6, proc, "Meta's 6th insights page")
    killing.kill_9(proc)
    out.append(_state(url))
    # 2. mid-dbt: the next run resumes the extraction and is killed while dbt builds (once 20
    # of its nodes have started: staging done, core under way)
    dbt_log = killing.DbtLog(data_dir)
    proc = killing.start(env, data_dir)
    killing.wait_for(lambda: dbt_log.nodes_started() >= 20, proc, "dbt build's 20th node")
    killing.kill_9(proc)
    out.append(_state(url))
    # 3. after dbt: in the quality gate or the publish
    dbt_log = killing.DbtLog(data_dir)
    proc = killing.start(env, data_dir)
    killing.wait_for(dbt_log.build_finished, proc, "the end of dbt build")
    killing.kill_9(proc)
    out.append(_state(url))
    return out


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def degraded(request, tmp_path_factory):
    """Two nights on one warehouse per engine: {"url", "settings", "nights": [snapshot, ...]}."""
    engine = request.param
    url = (f"duckdb:///{tmp_path_factory.mktemp('degraded') / 'warehouse.duckdb'}"
           if engine == "duckdb" else pg.create_database())
    try:
        with sandboxes(WORLD) as sb:
            settings = sb.settings(warehouse_url=url, data_dir=tmp_path_factory.mktemp("degraded-data"),
                                   http_max_backoff_seconds=0.01)
            sb.set_clock(CLOCK_A)
            kills = _kill_three_times(url, sb, tmp_path_factory.mktemp("killed"))
            nights = [_night(url, settings, sb, CLOCK_A)]
            sb.app("meta").token = "revoked-by-the-admin"  # every call now answers code 190
            sb.app("hubspot").faults.add("server_error", times=100_000)  # an outage
            nights.append(_night(url, settings, sb, CLOCK_B))
        yield {"url": url, "settings": settings, "nights": nights, "kills": kills}
    finally:
        if engine == "postgresql":
            pg.drop_database(url)


def test_kill_9_never_half_publishes_and_the_next_run_resumes(degraded):
    extracting, building, after_dbt = degraded["kills"]
    assert extracting["runs"] == ["running"] and not extracting["published"]
    # killed mid-stream: what it had not checkpointed yet (pages are loaded in coalesced
    # batches) is read again by the next run
    assert extracting["meta"] < META_ROWS_A
    assert building["runs"] == ["abandoned", "running"] and not building["published"]
    assert building["meta"] == META_ROWS_A  # the extraction resumed and finished, nothing doubled
    assert after_dbt["runs"] == ["abandoned", "abandoned", "running"]
    if after_dbt["published"]:  # the publish committed before the kill: then whole and true
        want = truth.kpi_channel_daily(WORLD, CLOCK_A)
        assert diff_rows([{k: r[k] for k in want[0]} for r in after_dbt["channel"]], want, KEYS) == []
    first = degraded["nights"][0]
    assert first["result"].status == "completed"
    wh = Warehouse(degraded["url"])
    runs = wh.fetch_all("select status, message from ops.runs order by started_at")
    wh.dispose()
    assert [r["status"] for r in runs[:4]] == ["abandoned"] * 3 + ["completed"]
    assert all("owner gone" in r["message"] for r in runs[:3])
    assert first["meta_raw"] == first["meta_raw_distinct"] == META_ROWS_A


def test_clean_night_is_fresh_and_true(degraded):
    night = degraded["nights"][0]
    assert night["result"].status == "completed" and night["result"].failed == {}
    assert night["run"]["status"] == "completed"
    want = truth.kpi_channel_daily(WORLD, CLOCK_A)
    assert diff_rows([{k: r[k] for k in want[0]} for r in night["channel"]], want, KEYS) == []
    fresh = night["freshness"]
    assert {s: r["status"] for s, r in fresh.items()} == {s: "fresh" for s in fresh}
    assert {"meta", "hubspot", "ecb"} <= set(fresh)
    assert not any(r["is_stale"] or r["error"] for r in fresh.values())
    assert fresh["meta"]["rows_last_success"] > 0 and fresh["meta"]["kind"] == "ad_platform"
    assert fresh["hubspot"]["kind"] == "crm"


def test_run_with_failed_sources_completes_with_warnings(degraded):
    res = degraded["nights"][1]["result"]
    run = degraded["nights"][1]["run"]
    assert res.status == pipeline.COMPLETED_WITH_WARNINGS == run["status"]
    assert set(res.failed) == {"meta", "hubspot"}
    assert "REVOPS_META_ACCESS_TOKEN" in res.failed["meta"] and "HTTP 500" in res.failed["hubspot"]
    assert "meta failed" in run["message"] and "hubspot failed" in run["message"]


def test_failed_ad_platform_builds_with_its_last_good_data(degraded):
    first, night = degraded["nights"]
    # ground truth: every other platform as of B, Meta's ad data as of A (its last good sync)
    want = ad_side({"meta": CLOCK_A}, CLOCK_B)
    assert diff_rows(night["built_ad_side"], want, AD_KEYS) == []
    # not trivial: B has days A had not, for Meta too, and the other platforms have them
    assert len(ad_side({}, CLOCK_B)) > len(want) > len(ad_side({}, CLOCK_A))
    assert night["meta_raw"] == night["meta_raw_distinct"] == first["meta_raw"]  # nothing lost or doubled
    fresh = night["freshness"]
    assert fresh["meta"]["status"] == "stale" and fresh["meta"]["is_stale"]
    assert fresh["meta"]["last_success_at"] == first["freshness"]["meta"]["last_success_at"]
    assert fresh["meta"]["last_attempt_at"] > fresh["meta"]["last_success_at"]
    assert fresh["meta"]["rows_last_success"] == first["freshness"]["meta"]["rows_last_success"]
    assert "REVOPS_META_ACCESS_TOKEN" in fresh["meta"]["error"]
    others = {s: r for s, r in fresh.items() if s not in ("meta", "hubspot")}
    assert others and all(r["status"] == "fresh" and not r["is_stale"] and r["error"] is None
                          and r["last_success_at"] > first["freshness"][s]["last_success_at"]
                          for s, r in others.items())
    # an ad platform's failure alone holds nothing: by this build's lineage, every mart publishes
    assert pipeline.held_marts(degraded["settings"], ["meta"]) == []


def test_failed_crm_holds_the_marts_that_read_it(degraded):
    first, night = degraded["nights"]
    res = night["result"]
    assert res.held == pipeline.held_marts(degraded["settings"], ["hubspot"])
    # every KPI mart reads the CRM (kpi_channel_daily joins its leads to spend): all held
    assert {"kpi_channel_daily", "kpi_funnel_monthly", "kpi_pipeline", "kpi_scorecard_monthly"} <= set(res.held)
    assert res.published == ["kpi_data_freshness"]
    # today's build moved on (other platforms as of B) but was not published: the published
    # marts are night 1's, row for row
    assert len(night["built_ad_side"]) > len(first["built_ad_side"])
    assert first["channel"] and first["funnel"]  # a held mart that was empty would prove nothing
    assert diff_rows(night["channel"], first["channel"], KEYS) == []
    assert diff_rows(night["funnel"], first["funnel"], ("cohort_month", "channel", "campaign_id")) == []
    fresh = night["freshness"]
    assert fresh["hubspot"]["status"] == "stale" and fresh["hubspot"]["is_stale"]
    assert "HTTP 500" in fresh["hubspot"]["error"]  # the outage, after the client's retries
    assert fresh["hubspot"]["rows_last_success"] == first["freshness"]["hubspot"]["rows_last_success"]


def test_report_of_the_degraded_night_names_the_stale_sources(degraded, tmp_path):
    """The report written after the degraded night (what the run itself writes) says which
    sources are stale and why, in the page and in the end-of-run headline."""
    from revops.report.summary import health_lines, write_run_report

    path, headline = write_run_report(degraded["url"], tmp_path, "USD")
    page = path.read_text()
    assert sorted(headline["stale_sources"]) == ["hubspot", "meta"]
    assert "Stale sources:" in " ".join(health_lines(headline))
    for source in ("meta", "hubspot"):
        assert source in page
    assert "REVOPS_META_ACCESS_TOKEN" in page  # the error names the variable to fix
