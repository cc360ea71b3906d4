"""The whole pipeline (without Prefect) against the sandboxes, on DuckDB and PostgreSQL:
the published mart equals the sandbox's ground truth, after an incremental second run that
picks up restated spend, merged contacts and a LinkedIn creative moved to another ad group; reruns
change nothing; a failed gate publishes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.settings import Settings  # noqa: F401 - type of the fixture's settings
from tests.kpi_compare import diff_rows

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

KEYS = ("date_day", "platform", "campaign_id", "channel")
WORLD = World(WorldConfig(seed=7, days=30))
FIRST_CLOCK = WORLD.now - timedelta(days=6)
#: moved between the runs to another LinkedIn campaign (our ad group) of its campaign group (our
#: campaign, so the marts' campaigns keep their spend); its analytics rows do not change
MOVED = next(a for a in WORLD.ads if a.platform == "linkedin")
NEW_GROUP = next(a.ad_group_id for a in WORLD.ads if a.platform == "linkedin"
                 and a.campaign_id == MOVED.campaign_id and a.ad_group_id != MOVED.ad_group_id)


def _run(settings: Settings) -> dict:
    run_id = pipeline.run(settings, "test").run_id
    with Warehouse(settings.warehouse_url) as wh:
        return {"run_id": run_id, "summary": pipeline.summary(wh)}


def _mart(wh: Warehouse) -> list[dict]:
    return wh.fetch_all("select * from marts.kpi_channel_daily")


def _moved(wh: Warehouse) -> dict[str, int]:
    """The moved creative's rows in core.fct_ad_daily, by the ad group they carry."""
    return {r["g"]: r["n"] for r in wh.fetch_all(
        "select ad_group_id as g, count(*) as n from core.fct_ad_daily"
        f" where platform = 'linkedin' and ad_id = '{MOVED.ad_id}' group by ad_group_id")}


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def synced(request, tmp_path_factory):
    """Two runs: one at an earlier clock, one at the final clock (incremental from state)."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('wh') / 'warehouse.duckdb'}"
        cleanup = None
    else:
        from tests.conftest import create_pg_database, drop_pg_database

        url, cleanup = create_pg_database(), drop_pg_database
    data_dir = tmp_path_factory.mktemp("data")
    with sandboxes(WORLD, as_of=FIRST_CLOCK) as sb:
        settings = sb.settings(warehouse_url=url, data_dir=data_dir, http_max_backoff_seconds=0.05)
        first = _run(settings)
        with Warehouse(url) as wh:  # closed before the next run: dbt must find the DuckDB file free
            first_mart, first_moved = _mart(wh), _moved(wh)
        sb.set_clock(WORLD.now)
        sb.app("linkedin").moved_creatives = {MOVED.ad_id: NEW_GROUP}
        second = _run(settings)
        with Warehouse(url) as wh:
            second_moved = _moved(wh)
        yield {"url": url, "settings": settings, "sb": sb, "first": first, "second": second,
               "first_mart": first_mart, "moved": (first_moved, second_moved)}
    if cleanup:
        cleanup(url)


def test_first_run_equals_truth_at_its_clock(synced):
    want = truth.kpi_channel_daily(WORLD, FIRST_CLOCK)
    assert diff_rows(synced["first_mart"], want, KEYS) == []


def test_second_run_equals_truth_after_restatement_and_merges(synced):
    wh = Warehouse(synced["url"])
    want = truth.kpi_channel_daily(WORLD)
    got = _mart(wh)
    assert len(got) == len(want)
    assert diff_rows(got, want, KEYS) == []
    # the provisional days of the first run were restated, not added to
    first_spend = sum(float(r["spend"]) for r in synced["first_mart"])
    assert synced["second"]["summary"]["spend"] > first_spend
    # merged duplicates count once: no merged-away id survives in core
    merged = [c.contact_id for c in WORLD.contacts if c.merged_into and c.merged_at <= WORLD.now]
    assert merged, "the world must contain merges for this test to mean anything"
    in_core = wh.fetch_all(
        "select contact_id from core.dim_contact where contact_id in ("
        + ",".join(f"'{i}'" for i in merged) + ")"
    )
    assert in_core == []
    wh.dispose()


def test_second_run_was_incremental(synced):
    wh = Warehouse(synced["url"])
    rows = wh.fetch_all(
        "select stream, rows_extracted from ops.run_streams where run_id = :r and source = 'hubspot'",
        r=synced["second"]["run_id"],
    )
    contacts_second = {r["stream"]: r["rows_extracted"] for r in rows}["contacts"]
    total_contacts = len(WORLD.contacts_as_of(WORLD.now))
    assert 0 < contacts_second < total_contacts / 2
    assert wh.scalar("select count(*) from ops.quarantine") == 0
    wh.dispose()


def test_a_moved_linkedin_creative_moves_every_stored_row(synced):
    """The second run re-reads only LinkedIn's lookback days, yet every stored day of the moved
    creative takes its new ad group (the incremental build's changed partitions,
    macros/incremental.sql), as a full rebuild would give."""
    before, after = synced["moved"]
    assert list(before) == [MOVED.ad_group_id] and before[MOVED.ad_group_id] > 7
    assert list(after) == [NEW_GROUP] and after[NEW_GROUP] >= before[MOVED.ad_group_id]


def test_raw_has_no_duplicate_keys(synced):
    wh = Warehouse(synced["url"])
    dupes = wh.scalar(
        'select count(*) from (select ad_id, date_start from raw."meta__ads_insights" '
        "group by ad_id, date_start having count(*) > 1) d"
    )
    assert dupes == 0
    wh.dispose()


def test_published_columns_are_the_documented_ones(synced):
    """The data dictionary (and the PostgreSQL comments) come from the yml: it must list
    exactly the columns the tables have."""
    from pathlib import Path

    import yaml

    wh = Warehouse(synced["url"])
    models = Path(__file__).resolve().parents[1] / "src/revops/dbt/models"
    checked = 0
    for folder, schema in (("core", "core"), ("marts", "marts")):
        for yml in models.joinpath(folder).glob("*.yml"):
            for model in yaml.safe_load(yml.read_text())["models"]:
                documented = [c["name"] for c in model.get("columns", [])]
                with wh.engine.connect() as conn:
                    actual = wh.columns(conn, schema, model["name"])
                assert actual == documented, f"{schema}.{model['name']}"
                checked += 1
    assert checked >= 6
    if wh.dialect == "postgresql":  # persist_docs comments survive the publish swap
        comment = wh.scalar("select obj_description(cast('marts.kpi_channel_daily' as regclass), 'pg_class')")
        assert comment and comment.startswith("Grain: date_day, platform, campaign_id")
        col = wh.scalar(
            "select col_description(cast('marts.kpi_channel_daily' as regclass), "
            "(select attnum from pg_attribute where attrelid = cast('marts.kpi_channel_daily' as regclass) and attname = 'cpl'))"
        )
        assert col == "spend / leads (cost per lead); NULL when leads = 0."
    wh.dispose()


def test_failed_gate_keeps_published_marts(synced):
    wh = Warehouse(synced["url"])
    before = _mart(wh)
    # corrupt the freshly built mart: a duplicated grain row
    with wh.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text(
            "insert into marts_build.kpi_channel_daily "
            "select * from marts_build.kpi_channel_daily order by date_day limit 1"
        ))
    with pytest.raises(pipeline.QualityGateFailed) as err:
        pipeline.quality_gate(wh, "gate-test")
    assert "unique" in str(err.value).lower()
    assert _mart(wh) == before
    failed = wh.scalar("select count(*) from ops.quality_results where run_id = 'gate-test' and not success")
    assert failed >= 1
    wh.dispose()


#: the marts a run with nothing new still rebuilds: the freshness of this run's sources, and the
#: SLA decisions against this run's CRM cut-off (an untouched MQL turns missed as time passes)
EVERY_RUN_MARTS = ["kpi_data_freshness", "kpi_lead_response"]


def _published(wh: Warehouse) -> dict[str, list[tuple]]:
    tables = [r["table_name"] for r in wh.fetch_all(
        "select table_name from information_schema.tables where table_schema = 'marts'")]
    return {t: sorted(tuple(str(v) for v in r.values()) for r in wh.fetch_all(f'select * from marts."{t}"'))
            for t in tables}


def _built_nodes(settings) -> set[str]:
    import json

    from revops.transform import work_dir

    results = json.loads((work_dir(settings) / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"] for r in results}


def _lead_response_equals_truth(wh: Warehouse, run_id: str) -> None:
    from datetime import UTC, datetime

    from revops.sandbox.truth import sales as truth_sales

    started = wh.scalar("select started_at from ops.runs where run_id = :r", r=run_id)
    started = datetime.fromisoformat(started) if isinstance(started, str) else started
    started = started if started.tzinfo else started.replace(tzinfo=UTC)
    got = wh.fetch_all("select * from marts.kpi_lead_response")
    want = truth_sales.kpi_lead_response(WORLD, run_at=started)
    assert got and diff_rows(got, want, ("mql_week", "owner_id", "team")) == []
    assert {r["as_of"] for r in got} == {started}


def test_rerun_with_nothing_new_skips_the_build(synced):
    """A third run with nothing new (the lookback windows re-read, every row as stored): no raw
    row written, dbt builds only what describes the run itself, and every other published mart
    is left exactly as it was."""
    with Warehouse(synced["url"]) as wh:
        before = _published(wh)
        raw_before = wh.scalar('select count(*) from raw."hubspot__contacts"')
    result = pipeline.run(synced["settings"], "test")
    build = result.summary["build"]
    assert not build["full"] and build["changed_streams"] == []
    assert sorted(build["marts"]) == EVERY_RUN_MARTS
    assert sorted(result.published) == EVERY_RUN_MARTS
    built = {n for n in _built_nodes(synced["settings"]) if n.startswith("model.")}
    assert "model.revops.kpi_channel_daily" not in built and "model.revops.dim_contact" not in built
    with Warehouse(synced["url"]) as wh:
        after = _published(wh)
        assert set(after) == set(before)
        for table in set(before) - set(EVERY_RUN_MARTS):
            assert after[table] == before[table], table
        assert wh.scalar('select count(*) from raw."hubspot__contacts"') == raw_before
        streams = wh.fetch_all("select rows_extracted, rows_changed, validation_seconds from ops.run_streams "
                               "where run_id = :r", r=result.run_id)
        assert sum(s["rows_extracted"] for s in streams) > 0, "the lookback windows were re-read"
        assert all(s["rows_changed"] == 0 for s in streams)
        assert all(s["validation_seconds"] == 0 for s in streams), "nothing changed: nothing validated"
        fresh = wh.fetch_all("select distinct last_run_id from marts.kpi_data_freshness")
        assert fresh == [{"last_run_id": result.run_id}]
        _lead_response_equals_truth(wh, result.run_id)


def test_one_restated_row_rebuilds_what_reads_it(synced):
    """Last in the module: Meta restates one ad-day inside its lookback window. The next run
    changes that one raw row, rebuilds what reads Meta's insights, and the marts equal the truth."""
    import dataclasses
    from decimal import Decimal

    at = max(i for i, r in enumerate(WORLD.ad_days) if r.ad.platform == "meta"
             and (WORLD.now.date() - r.day).days >= 3)
    original = WORLD.ad_days[at]
    WORLD.replace_ad_day(at, dataclasses.replace(original, spend=original.spend + Decimal("12.34")))
    try:
        with Warehouse(synced["url"]) as wh:
            spend_before = float(wh.scalar("select sum(spend) from marts.kpi_channel_daily"))
        result = pipeline.run(synced["settings"], "test")
        build = result.summary["build"]
        assert not build["full"] and build["changed_streams"] == ["meta.ads_insights"]
        assert "kpi_channel_daily" in result.published
        with Warehouse(synced["url"]) as wh:
            changed = wh.fetch_all("select source, stream, rows_changed from ops.run_streams "
                                   "where run_id = :r and rows_changed > 0", r=result.run_id)
            assert changed == [{"source": "meta", "stream": "ads_insights", "rows_changed": 1}]
            # only the changed row was validated (the suite's time recorded on its stream alone)
            validated = wh.fetch_all("select source, stream from ops.run_streams "
                                     "where run_id = :r and validation_seconds > 0", r=result.run_id)
            assert validated == [{"source": "meta", "stream": "ads_insights"}]
            got = _mart(wh)
            assert float(wh.scalar("select sum(spend) from marts.kpi_channel_daily")) > spend_before
            assert wh.unbuilt_changes() == []
            _lead_response_equals_truth(wh, result.run_id)
        assert diff_rows(got, truth.kpi_channel_daily(WORLD), KEYS) == []
    finally:
        WORLD.replace_ad_day(at, original)
