"""core.fct_ad_daily builds incrementally (only the partitions that changed since the last build)
and equals, row for row, a ``--full-refresh`` build of the same raw data, on DuckDB and
PostgreSQL, after nights that change what an incremental build must notice:

- night 1 (six days before the end), the first build, in full: the ECB is down, so every row in
  a currency other than the reporting one is held back (core.fct_ad_daily_fx_missing), and
  finance typed an extra offline line on a day that has no other offline spend (a partition of
  its own);
- night 2 (the world's end), incremental: the ECB is back (the held rows return, converted), the
  extra line is gone from the file again (its partition must vanish, not linger), and the
  platforms' lookback windows restate their last days.

Then the whole project is rebuilt with ``--full-refresh`` (``transform.build(full_refresh=True)``,
what ``revops sync --full-refresh`` runs): fct_ad_daily and every other core table and built mart
are unchanged, and the published channel mart equals the ground truth.

One warehouse per engine for the module (two nights and a full rebuild).
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from revops import pipeline, transform
from revops.load.warehouse import Warehouse
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests import pg
from tests.kpi_compare import diff_rows, fetch_like

pytestmark = pytest.mark.slow

WORLD = World(WorldConfig(seed=23, days=24, contacts_per_campaign_day=0.3, organic_per_day=1.0,
                          rename_campaigns=False))
CLOCKS = [WORLD.now - timedelta(days=6), WORLD.now]
#: finance's extra line on night 1: a booking day before the world's first, so no other offline
#: row shares its (platform, account, day) partition
EXTRA_DAY = WORLD.start - timedelta(days=3)
EXTRA_LINE = (EXTRA_DAY.isoformat(), "events", "Extra booking", "123.45", "USD")


def _rows(wh: Warehouse, table: str) -> list[tuple]:
    """Every row of ``table``, sorted (NULLs first), as tuples of its columns in order."""
    rows = [tuple(r.values()) for r in wh.fetch_all(f"select * from {table}")]
    return sorted(rows, key=lambda r: tuple((v is not None, str(v)) for v in r))


def _tables(wh: Warehouse) -> list[str]:
    return sorted(f"{r['s']}.{r['t']}" for r in wh.fetch_all(
        "select table_schema as s, table_name as t from information_schema.tables "
        "where table_schema in ('core', 'marts_build') and table_type = 'BASE TABLE'"))


def _same(a: tuple, b: tuple) -> bool:
    """Equal rows; doubles (ratios, averages a mart sums in another order) to 1e-12 relative."""
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12) if isinstance(x, float) and isinstance(y, float)
        else x == y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def nights(request, tmp_path_factory):
    """The two nights of the module docstring (the loop of ``tests.conftest.nightly_warehouse``,
    with the sandboxes switched between nights); after each, what it left."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('incr') / 'warehouse.duckdb'}"
    else:
        url = pg.create_database()
    seen: dict = {}
    try:
        with sandboxes(WORLD) as sb:
            settings = sb.settings(warehouse_url=url, data_dir=tmp_path_factory.mktemp("incr-data"),
                                   http_max_backoff_seconds=0.05)
            for night, clock in enumerate(CLOCKS, 1):
                sb.set_clock(clock)
                if night == 1:  # the ECB down; finance adds a line on a day of its own
                    sb.app("ecb").faults.add("server_error", times=100_000)
                    sb.app("offline").extra_lines = [EXTRA_LINE]
                else:  # the ECB back; the line taken out of the file again
                    sb.app("ecb").faults.clear()
                    sb.app("offline").extra_lines = []
                result = pipeline.run(settings, "test")
                fct = next(n for n in transform._node_results(transform.work_dir(settings) / "target")
                           if n["name"] == "fct_ad_daily")
                with Warehouse(url) as wh:
                    seen[night] = {
                        "status": result.status,
                        "failed": sorted(result.failed),
                        "held": wh.scalar("select count(*) from core.fct_ad_daily_fx_missing"),
                        "extra": wh.scalar("select count(*) from core.fct_ad_daily where "
                                           f"platform = 'offline' and date_day = '{EXTRA_DAY}'"),
                        # the incremental select (macros/incremental.sql) or the whole table
                        "incremental": "changed_partitions" in (fct["compiled_code"] or ""),
                    }
        yield {"url": url, "settings": settings, "seen": seen}
    finally:
        if request.param == "postgresql":
            pg.drop_database(url)


def test_the_nights_exercised_what_an_incremental_build_must_notice(nights):
    seen = nights["seen"]
    assert [seen[n]["incremental"] for n in (1, 2)] == [False, True]
    assert seen[1]["failed"] == ["ecb"] and seen[2]["failed"] == []
    assert seen[1]["held"] > 0 and seen[2]["held"] == 0
    assert (seen[1]["extra"], seen[2]["extra"]) == (1, 0)


def test_incremental_equals_a_full_refresh_of_the_same_raw_data(nights):
    url = nights["url"]
    with Warehouse(url) as wh:
        tables = _tables(wh)
        before = {t: _rows(wh, t) for t in tables}
        grain = wh.scalar("select count(*) from (select distinct platform, account_id, campaign_id, "
                          "ad_group_id, ad_id, date_day from core.fct_ad_daily) as g")
    assert "core.fct_ad_daily" in tables and "marts_build.kpi_channel_daily" in tables
    assert grain == len(before["core.fct_ad_daily"]) > 0  # no partition left twice

    transform.build(nights["settings"], full_refresh=True)

    with Warehouse(url) as wh:
        assert _tables(wh) == tables
        after = {t: _rows(wh, t) for t in tables}
    assert after["core.fct_ad_daily"] == before["core.fct_ad_daily"]  # exactly: no double in doubt
    for t in tables:
        assert len(after[t]) == len(before[t]), t
        bad = [(a, b) for a, b in zip(after[t], before[t], strict=True) if not _same(a, b)]
        assert not bad, f"{t}: {bad[:3]}"


def test_published_marts_equal_truth_after_incremental_nights(nights):
    want = truth.kpi_channel_daily(WORLD)
    with Warehouse(nights["url"]) as wh:
        got = fetch_like(wh, "kpi_channel_daily", want)
    assert diff_rows(got, want, ("date_day", "platform", "campaign_id", "channel")) == []
