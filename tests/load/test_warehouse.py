"""Bulk load + merge + sync state, on DuckDB and PostgreSQL."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import text

from revops.load.warehouse import Warehouse, dedupe_last

SCHEMA = pa.schema([("id", pa.string()), ("day", pa.string()), ("spend", pa.string()), ("n", pa.int64())])


def _t(rows):
    return pa.Table.from_pylist(rows, schema=SCHEMA)


@pytest.fixture
def wh(warehouse_url):
    w = Warehouse(warehouse_url)
    w.ensure_schemas()
    yield w
    w.dispose()


def _rows(wh):
    return wh.fetch_all('select id, day, spend, n from raw."t__s" order by id, day')


def test_dedupe_last_keeps_last_occurrence():
    t = _t([
        {"id": "a", "day": "1", "spend": "1.0", "n": 1},
        {"id": "b", "day": "1", "spend": "2.0", "n": 2},
        {"id": "a", "day": "1", "spend": "3.0", "n": 3},
    ])
    out = dedupe_last(t, ["id", "day"]).to_pylist()
    assert sorted((r["id"], r["n"]) for r in out) == [("a", 3), ("b", 2)]


def test_merge_is_idempotent_and_restatement_replaces(wh):
    batch = _t([
        {"id": "a", "day": "2026-06-01", "spend": "10.00", "n": 1},
        {"id": "a", "day": "2026-06-02", "spend": "11.00", "n": 2},
        {"id": "b", "day": "2026-06-01", "spend": "12.00", "n": 3},
    ])
    for _ in range(2):  # a rerun of the same batch must not duplicate
        wh.load_batch(source="t", stream="s", table=batch, primary_key=["id", "day"], state={"c": 1}, run_id="r1")
    assert len(_rows(wh)) == 3
    restated = _t([
        {"id": "a", "day": "2026-06-02", "spend": "15.50", "n": 9},
        {"id": "a", "day": "2026-06-02", "spend": "15.75", "n": 10},  # later in batch wins
        {"id": "c", "day": "2026-06-03", "spend": None, "n": None},
    ])
    res = wh.load_batch(source="t", stream="s", table=restated, primary_key=["id", "day"], state={"c": 2}, run_id="r2")
    assert (res.rows_in, res.rows_loaded) == (3, 2)
    rows = _rows(wh)
    assert rows == [
        {"id": "a", "day": "2026-06-01", "spend": "10.00", "n": 1},
        {"id": "a", "day": "2026-06-02", "spend": "15.75", "n": 10},
        {"id": "b", "day": "2026-06-01", "spend": "12.00", "n": 3},
        {"id": "c", "day": "2026-06-03", "spend": None, "n": None},
    ]
    assert wh.get_state("t", "s") == {"c": 2}
    assert wh.scalar('select count(distinct _load_id) from raw."t__s"') == 2


def test_state_and_data_commit_together(wh):
    """A failure inside the load transaction leaves neither the rows nor the new cursor."""
    wh.load_batch(source="t", stream="s", table=_t([{"id": "a", "day": "1", "spend": "1", "n": 1}]),
                  primary_key=["id", "day"], state={"c": 1}, run_id="r1")
    # n arrives as text now: the insert into the bigint column fails mid-transaction
    bad = pa.Table.from_pylist([{"id": "z", "day": "1", "spend": "1", "n": "not a number"}],
                               schema=pa.schema([("id", pa.string()), ("day", pa.string()),
                                                 ("spend", pa.string()), ("n", pa.string())]))
    # the error raised is the one that failed the load, not DuckDB's "Current transaction is
    # aborted" from cleaning up after it
    with pytest.raises(Exception, match="not a number") as failed:
        wh.load_batch(source="t", stream="s", table=bad, primary_key=["id", "day"], state={"c": 99}, run_id="r2")
    assert "transaction is aborted" not in str(failed.value)
    assert [r["id"] for r in _rows(wh)] == ["a"]
    assert wh.get_state("t", "s") == {"c": 1}


def test_batch_bookkeeping_commits_with_the_rows(wh):
    """A batch's suite results and quarantined rows are written in its load transaction: with
    the rows when it loads, not at all when it fails (its rerun writes them once)."""
    quality = [{"suite": "raw__t__s", "expectation_type": "expect_column_values_to_not_be_null",
                "kwargs": '{"column": "id"}', "success": False, "unexpected_count": 1,
                "observed_value": None}]
    rejected = [("z|1", {"id": "z", "day": "1", "spend": "x"}, ["spend must be a decimal"])]
    wh.load_batch(source="t", stream="s", table=_t([{"id": "a", "day": "1", "spend": "1", "n": 1}]),
                  primary_key=["id", "day"], state={"c": 1}, run_id="r1", quality=quality,
                  quarantined=rejected)
    bad = pa.Table.from_pylist([{"id": "b", "day": "1", "spend": "1", "n": "not a number"}],
                               schema=SCHEMA.set(3, pa.field("n", pa.string())))
    with pytest.raises(Exception):
        wh.load_batch(source="t", stream="s", table=bad, primary_key=["id", "day"], state={"c": 2},
                      run_id="r2", quality=quality, quarantined=rejected)
    assert wh.fetch_all("select run_id, suite, layer, success, unexpected_count from ops.quality_results") == [
        {"run_id": "r1", "suite": "raw__t__s", "layer": "raw", "success": False, "unexpected_count": 1}]
    assert wh.fetch_all("select run_id, record_key, reasons from ops.quarantine") == [
        {"run_id": "r1", "record_key": "z|1", "reasons": "spend must be a decimal"}]
    assert [r["id"] for r in _rows(wh)] == ["a"] and wh.get_state("t", "s") == {"c": 1}


def test_a_merged_row_is_replaced_whole(wh):
    """A key's row is the latest batch's row: a column that batch lacks becomes NULL rather
    than keeping the older value (PostgreSQL merges with an upsert, DuckDB delete + insert)."""
    wide = pa.Table.from_pylist([{"id": "a", "day": "1", "spend": "1", "n": 1, "extra": "old"},
                                 {"id": "b", "day": "1", "spend": "2", "n": 2, "extra": "kept"}],
                                schema=SCHEMA.append(pa.field("extra", pa.string())))
    wh.load_batch(source="t", stream="s", table=wide, primary_key=["id", "day"], state=None, run_id="r1")
    wh.load_batch(source="t", stream="s", table=_t([{"id": "a", "day": "1", "spend": "9", "n": 9}]),
                  primary_key=["id", "day"], state=None, run_id="r2")
    got = wh.fetch_all('select id, spend, n, extra, _load_id from raw."t__s" order by id')
    assert got == [{"id": "a", "spend": "9", "n": 9, "extra": None, "_load_id": "r2"},
                   {"id": "b", "spend": "2", "n": 2, "extra": "kept", "_load_id": "r1"}]


def test_new_column_is_added_not_dropped(wh):
    wh.load_batch(source="t", stream="s", table=_t([{"id": "a", "day": "1", "spend": "1", "n": 1}]),
                  primary_key=["id", "day"], state=None, run_id="r1")
    wider = pa.Table.from_pylist([{"id": "b", "day": "1", "spend": "2", "n": 2, "extra": "x"}],
                                 schema=SCHEMA.append(pa.field("extra", pa.string())))
    wh.load_batch(source="t", stream="s", table=wider, primary_key=["id", "day"], state=None, run_id="r2")
    got = wh.fetch_all('select id, extra from raw."t__s" order by id')
    assert got == [{"id": "a", "extra": None}, {"id": "b", "extra": "x"}]
    assert wh.get_state("t", "s") is None


def test_runs_quarantine_and_quality_bookkeeping(wh):
    run = wh.start_run("nightly_sync")
    wh.record_stream(run, "t", "s", rows_extracted=5, rows_loaded=4, rows_quarantined=1, batches=1,
                     seconds=0.1, state_before=None, state_after={"c": 1})
    n = wh.quarantine(run, "t", "s", [("k1", {"id": "k1", "spend": "abc"}, ["spend must be a decimal"])])
    wh.finish_run(run, "completed")
    assert n == 1
    assert wh.fetch_all("select status from ops.runs") == [{"status": "completed"}]
    q = wh.fetch_all("select record_key, reasons from ops.quarantine")
    assert q == [{"record_key": "k1", "reasons": "spend must be a decimal"}]
    assert wh.scalar("select rows_quarantined from ops.run_streams") == 1


def test_load_reports_and_marks_only_changed_rows(wh):
    """A re-read of stored rows changes nothing (no write, no unbuilt mark); a restated value, a
    new key or a stored column the batch lacks (it would become NULL) counts as a change."""
    batch = _t([
        {"id": "a", "day": "1", "spend": "10.00", "n": 1},
        {"id": "b", "day": "1", "spend": None, "n": 2},
    ])
    first = wh.load_batch(source="t", stream="s", table=batch, primary_key=["id", "day"], state={"c": 1},
                          run_id="r1")
    assert first.rows_changed == 2 and wh.unbuilt_changes() == [("t", "s")]
    wh.clear_unbuilt()
    assert wh.compare("t__s", batch, ["id", "day"]).changed.num_rows == 0
    again = wh.load_batch(source="t", stream="s", table=batch, primary_key=["id", "day"], state={"c": 2},
                          run_id="r2")
    assert (again.rows_loaded, again.rows_changed) == (2, 0)
    assert wh.unbuilt_changes() == [] and wh.get_state("t", "s") == {"c": 2}
    assert wh.scalar('select count(*) from raw."t__s" where _load_id = \'r2\'') == 0
    news = _t([
        {"id": "a", "day": "1", "spend": "10.00", "n": 1},   # same
        {"id": "b", "day": "1", "spend": "0.00", "n": 2},    # NULL -> a value
        {"id": "c", "day": "1", "spend": "1.00", "n": 3},    # new key
    ])
    assert wh.compare("t__s", news, ["id", "day"]).changed["id"].to_pylist() == ["b", "c"]
    res = wh.load_batch(source="t", stream="s", table=news, primary_key=["id", "day"], state=None, run_id="r3")
    assert res.rows_changed == 2 and wh.unbuilt_changes() == [("t", "s")]
    narrower = pa.Table.from_pylist([{"id": "a", "day": "1", "spend": "10.00"}],
                                    schema=pa.schema([("id", pa.string()), ("day", pa.string()),
                                                      ("spend", pa.string())]))
    assert wh.compare("t__s", narrower, ["id", "day"]).changed.num_rows == 1  # n would become NULL


def test_a_reread_of_floats_booleans_and_nulls_changes_nothing(wh):
    """The comparison sees a value as the load stored it (PostgreSQL: through the same CSV COPY),
    so doubles, booleans, NULLs and empty strings read again compare equal; a flipped flag (a
    tombstone) does not."""
    schema = pa.schema([("id", pa.string()), ("x", pa.float64()), ("ok", pa.bool_()), ("note", pa.string())])
    rows = [{"id": "a", "x": 0.1 + 0.2, "ok": True, "note": ""},
            {"id": "b", "x": 1e-300, "ok": None, "note": None},
            {"id": "c", "x": None, "ok": False, "note": 'quote " and, comma'}]
    batch = pa.Table.from_pylist(rows, schema=schema)
    wh.load_batch(source="t", stream="f", table=batch, primary_key=["id"], state=None, run_id="r1")
    assert wh.compare("t__f", batch, ["id"]).changed.num_rows == 0
    deleted = pa.Table.from_pylist([{**rows[2], "ok": True}], schema=schema)
    assert wh.compare("t__f", deleted, ["id"]).changed["id"].to_pylist() == ["c"]


def test_a_batch_compared_once_loads_what_the_comparison_found(wh):
    """The pipeline compares a batch, validates the changed rows and loads those that pass with
    the comparison: no second comparison, the same rows and counts as a load that compares."""
    wh.load_batch(source="t", stream="s", table=_t([{"id": "a", "day": "1", "spend": "1", "n": 1},
                                                    {"id": "b", "day": "1", "spend": "2", "n": 2}]),
                  primary_key=["id", "day"], state={"c": 1}, run_id="r1")
    news = _t([
        {"id": "a", "day": "1", "spend": "1", "n": 1},   # same
        {"id": "b", "day": "1", "spend": "5", "n": 2},   # restated
        {"id": "c", "day": "1", "spend": "3", "n": 3},   # new
        {"id": "d", "day": "1", "spend": "x", "n": 4},   # new, fails validation below
        {"id": "c", "day": "1", "spend": "4", "n": 5},   # later in the batch wins
    ])
    compared = wh.compare("t__s", news, ["id", "day"])
    assert compared.changed["id"].to_pylist() == ["b", "d", "c"]
    assert (compared.unchanged, compared.known, compared.complete) == (1, 1, True)
    good = compared.changed.filter(pa.array([True, False, True]))
    res = wh.load_batch(source="t", stream="s", table=good, primary_key=["id", "day"], state={"c": 2},
                        run_id="r2", compared=compared)
    assert (res.rows_loaded, res.rows_changed) == (2, 2)
    assert _rows(wh) == [{"id": "a", "day": "1", "spend": "1", "n": 1},
                         {"id": "b", "day": "1", "spend": "5", "n": 2},
                         {"id": "c", "day": "1", "spend": "4", "n": 5}]
    assert wh.get_state("t", "s") == {"c": 2}
    # only new keys: inserted (PostgreSQL: COPY straight into the raw table), nothing replaced
    only_new = wh.compare("t__s", _t([{"id": "e", "day": "1", "spend": "6", "n": 6}]), ["id", "day"])
    assert (only_new.known, only_new.unchanged) == (0, 0)
    wh.load_batch(source="t", stream="s", table=only_new.changed, primary_key=["id", "day"], state=None,
                  run_id="r3", compared=only_new)
    assert [r["id"] for r in _rows(wh)] == ["a", "b", "c", "e"]
    assert wh.scalar('select count(*) from raw."t__s" where _load_id = \'r3\'') == 1


def test_after_a_batch_of_new_keys_stored_keys_are_still_found(wh):
    """Once a batch of only new keys went by (a first night), the next is looked up by key
    first: a batch that again holds none is all new; one that holds stored keys is compared
    column by column as before (a restated row changed, a re-read one not)."""
    def load(rows, run):
        compared = wh.compare("t__s", _t(rows), ["id", "day"])
        wh.load_batch(source="t", stream="s", table=compared.changed, primary_key=["id", "day"],
                      state=None, run_id=run, compared=compared)
        return compared

    load([{"id": "a", "day": "1", "spend": "1", "n": 1}], "r1")  # creates the table
    for run, key in (("r2", "b"), ("r3", "c")):  # none of their keys stored
        news = load([{"id": key, "day": "1", "spend": "2", "n": 2}], run)
        assert (news.changed["id"].to_pylist(), news.unchanged, news.known) == ([key], 0, 0)
    assert ("t__s" in wh._held_none) == (wh.dialect == "duckdb")
    mixed = wh.compare("t__s", _t([{"id": "a", "day": "1", "spend": "1", "n": 1},   # as stored
                                   {"id": "b", "day": "1", "spend": "9", "n": 2},   # restated
                                   {"id": "d", "day": "1", "spend": "4", "n": 4}]),  # new
                       ["id", "day"])
    assert (mixed.changed["id"].to_pylist(), mixed.unchanged, mixed.known) == (["b", "d"], 1, 1)
    same = wh.compare("t__s", _t([{"id": "c", "day": "1", "spend": "2", "n": 2}]), ["id", "day"])
    assert (same.changed.num_rows, same.unchanged) == (0, 1)
    # a re-read (its keys stored, nothing changed) is no batch of new keys: the next batch goes
    # straight to the join, as before (DuckDB only asks by key first)
    assert "t__s" not in wh._held_none


def test_a_comparison_without_the_table_or_a_column_is_made_again_by_the_load(wh):
    """Before the table or a new column exists every row counts as changed (all are validated);
    the load, having added the column, compares again: a row whose new column is NULL and whose
    other values are stored as they are changes nothing."""
    first = wh.compare("t__s", _t([{"id": "a", "day": "1", "spend": "1", "n": 1}]), ["id", "day"])
    assert (first.changed.num_rows, first.complete) == (1, False)
    res = wh.load_batch(source="t", stream="s", table=first.changed, primary_key=["id", "day"],
                        state=None, run_id="r1", compared=first)
    assert res.rows_changed == 1
    wider = pa.Table.from_pylist([{"id": "a", "day": "1", "spend": "1", "n": 1, "extra": None},
                                  {"id": "b", "day": "1", "spend": "2", "n": 2, "extra": "x"}],
                                 schema=SCHEMA.append(pa.field("extra", pa.string())))
    compared = wh.compare("t__s", wider, ["id", "day"])
    assert (compared.changed.num_rows, compared.complete) == (2, False)
    wh.clear_unbuilt()
    res = wh.load_batch(source="t", stream="s", table=compared.changed, primary_key=["id", "day"],
                        state=None, run_id="r2", compared=compared)
    assert (res.rows_loaded, res.rows_changed) == (2, 1)
    assert wh.fetch_all('select id, extra, _load_id from raw."t__s" order by id') == [
        {"id": "a", "extra": None, "_load_id": "r1"}, {"id": "b", "extra": "x", "_load_id": "r2"}]
    assert wh.unbuilt_changes() == [("t", "s")]


def test_analyze_gives_postgresql_planner_statistics_of_a_loaded_table(wh):
    rows = [{"id": f"id{i % 7}", "day": f"2026-06-{i % 28 + 1:02d}", "spend": "1.00", "n": i} for i in range(196)]
    wh.load_batch(source="t", stream="s", table=_t(rows), primary_key=["id", "day"], state=None, run_id="r1")
    analyzed = wh.analyze([("raw", "t__s"), ("raw", "not_loaded__yet")])
    if wh.dialect == "duckdb":  # DuckDB keeps its statistics as it writes
        assert analyzed == []
        return
    assert analyzed == ['"raw"."t__s"']  # a table the night did not create is skipped, not an error
    # the planner now knows the 28 rows hold 7 ids (a quarter of the rows: -0.25); without
    # statistics pg_stats has no row and it assumes 200 distinct values
    assert wh.scalar("select n_distinct from pg_stats where schemaname = 'raw' and tablename = 't__s' "
                     "and attname = 'id'") == -0.25


def test_a_night_analyzes_the_raw_tables_it_changed_before_dbt_reads_them(built_warehouse):
    """PostgreSQL's planner guessed 23M rows for 170k of HubSpot's engagements without
    statistics (bench/README.md); the night refreshes them, whatever autovacuum does."""
    if built_warehouse["engine"] != "postgresql":
        pytest.skip("DuckDB keeps its statistics as it writes")
    with Warehouse(built_warehouse["url"]) as wh:
        stale = wh.fetch_all("select relname from pg_stat_user_tables where schemaname = 'raw' "
                             "and n_live_tup > 0 and last_analyze is null")
        analyzed = wh.scalar("select count(*) from pg_stat_user_tables where schemaname = 'raw' "
                             "and last_analyze is not null")
    assert stale == [] and analyzed >= 10
