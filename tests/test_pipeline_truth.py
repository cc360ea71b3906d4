"""The whole pipeline (without Prefect) against the sandboxes, on DuckDB and PostgreSQL:
the published mart equals the sandbox's ground truth, after an incremental second run that
picks up restated spend and merged contacts; reruns change nothing; a failed gate publishes nothing."""

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


def _run(settings: Settings) -> dict:
    run_id = pipeline.run(settings, "test").run_id
    with Warehouse(settings.warehouse_url) as wh:
        return {"run_id": run_id, "summary": pipeline.summary(wh)}


def _mart(wh: Warehouse) -> list[dict]:
    return wh.fetch_all("select * from marts.kpi_channel_daily")


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
            first_mart = _mart(wh)
        sb.set_clock(WORLD.now)
        second = _run(settings)
        yield {"url": url, "settings": settings, "sb": sb, "first": first, "second": second,
               "first_mart": first_mart}
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


def test_rerun_leaves_the_same_marts(synced):
    """Last in the module: a third run with nothing new changes nothing."""
    wh = Warehouse(synced["url"])
    before = sorted(_mart(wh), key=lambda r: tuple(str(r[k]) for k in KEYS))
    raw_before = wh.scalar('select count(*) from raw."hubspot__contacts"')
    wh.dispose()
    _run(synced["settings"])
    wh = Warehouse(synced["url"])
    after = sorted(_mart(wh), key=lambda r: tuple(str(r[k]) for k in KEYS))
    assert after == before
    assert wh.scalar('select count(*) from raw."hubspot__contacts"') == raw_before
    wh.dispose()
