"""The GX runner: suites as data, row quarantine, table gates on pandas, DuckDB and PostgreSQL.

Suites are written to tmp_path; ``expectations/`` belongs to the pipeline, not to these tests.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from revops.quality import gx_runner  # noqa: E402
from tests import pg  # noqa: E402
from revops.quality.gx_runner import (  # noqa: E402
    SUITES_DIR,
    BatchRejected,
    load_suite,
    split_rows,
    validate_dataframe,
    validate_sql_table,
    validate_table,
)

DECIMAL = r"^-?\d+(\.\d+)?$"

# gx_runner silences these two at import; pytest re-enables warnings per test
pytestmark = [
    pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression:UserWarning"),
    pytest.mark.filterwarnings("ignore:`schema_name` is deprecated:DeprecationWarning"),
]


def write_suite(suites_dir: Path, name: str, expectations: list[dict], **extra) -> Path:
    suites_dir.mkdir(parents=True, exist_ok=True)
    path = suites_dir / f"{name}.json"
    path.write_text(json.dumps({"name": name, "meta": {"description": "test"}, "expectations": expectations, **extra}))
    return suites_dir


def e(type_: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"reason": f"test {type_}"}}


# ------------------------------------------------------------------ raw batches (row level)

RAW_SUITE = [
    e("expect_column_values_to_not_be_null", column="campaign_id"),
    e("expect_column_values_to_not_be_null", column="ad_id"),
    e("expect_column_values_to_match_regex", column="spend", regex=DECIMAL),
    e("expect_column_values_to_be_in_set", column="platform", value_set=["meta", "google"]),
    e("expect_compound_columns_to_be_unique", column_list=["date_start", "ad_id"]),
]


def raw_batch() -> pd.DataFrame:
    """Ten rows of strings as an API connector hands them over (pyarrow -> pandas); rows 3 and 7 bad."""
    rows = [
        {
            "date_start": "2024-05-01",
            "ad_id": str(1000 + i),
            "campaign_id": "c1",
            "platform": "meta" if i % 2 == 0 else "google",
            "spend": f"{i}.25",
        }
        for i in range(10)
    ]
    rows[5]["spend"] = "-3.5"  # negative decimals are fine
    rows[6]["spend"] = "7"  # so are whole numbers
    rows[3].update(spend="12,50", ad_id="1007")  # bad decimal; same (date, ad) as row 7
    rows[7].update(platform="tiktok", campaign_id=None)
    return pa.Table.from_pylist(rows).to_pandas()


@pytest.fixture
def raw_suites(tmp_path) -> Path:
    return write_suite(tmp_path / "suites", "raw__test__ads", RAW_SUITE)


def test_split_rows_quarantines_bad_rows_with_reasons(raw_suites):
    df = raw_batch()
    good, bad, result = split_rows("raw__test__ads", df, suites_dir=raw_suites)

    assert len(good) == 8
    assert list(good["ad_id"]) == [str(1000 + i) for i in range(10) if i not in (3, 7)]
    assert [pos for pos, _ in bad] == [3, 7]
    reasons = dict(bad)
    grain = ("grain (date_start, ad_id) must be unique: 2 rows failed (e.g. (2024-05-01, 1007))"
             " [test expect_compound_columns_to_be_unique]")
    assert reasons[3] == [
        f"spend must match {DECIMAL}: 1 row failed (e.g. '12,50') [test expect_column_values_to_match_regex]",
        grain,
    ]
    assert reasons[7] == [
        "campaign_id must not be null: 1 row failed [test expect_column_values_to_not_be_null]",
        "platform must be one of ['meta', 'google']: 1 row failed (e.g. 'tiktok') [test expect_column_values_to_be_in_set]",
        grain,
    ]
    assert not result.success
    assert [r.expectation_type for r in result.results] == [x["type"] for x in RAW_SUITE]
    assert [r.success for r in result.results] == [False, True, False, False, False]
    assert result.results[0].meta == {"reason": "test expect_column_values_to_not_be_null"}


def test_split_rows_reports_positions_validate_dataframe_reports_labels(raw_suites):
    df = raw_batch()
    df.index = range(100, 110)
    good, bad, _ = split_rows("raw__test__ads", df, suites_dir=raw_suites)
    assert [pos for pos, _ in bad] == [3, 7]
    assert list(good.index) == [100, 101, 102, 104, 105, 106, 108, 109]

    res = validate_dataframe("raw__test__ads", df, suites_dir=raw_suites)
    unique = res.results[4]
    assert unique.unexpected_index_list == [103, 107]
    assert unique.unexpected_count == 2


def test_clean_batch_passes_whole(raw_suites):
    df = raw_batch().drop(index=[3, 7])
    good, bad, result = split_rows("raw__test__ads", df, suites_dir=raw_suites)
    assert bad == []
    assert len(good) == 8
    assert result.success and result.failed == []
    assert all(r.description.endswith(": passed") for r in result.results)


def test_mostly_passes_the_expectation_but_still_quarantines_the_row(tmp_path):
    suites = write_suite(
        tmp_path, "raw__mostly", [e("expect_column_values_to_match_regex", column="n", regex=r"^\d+$", mostly=0.8)]
    )
    df = pd.DataFrame({"n": ["1", "2", "x", "4", "5"]})
    good, bad, result = split_rows("raw__mostly", df, suites_dir=suites)
    assert result.success
    assert bad == [(2, ["n must match ^\\d+$ (mostly 80%): passed, 1 row failed (e.g. 'x')"
                        " [test expect_column_values_to_match_regex]"])]
    assert len(good) == 4


def test_table_level_failure_rejects_the_batch(tmp_path):
    suites = write_suite(
        tmp_path,
        "raw__small",
        [
            e("expect_column_values_to_not_be_null", column="a"),
            e("expect_table_row_count_to_be_between", min_value=5),
        ],
    )
    df = pd.DataFrame({"a": ["1", None, "3"]})
    with pytest.raises(BatchRejected) as info:
        split_rows("raw__small", df, suites_dir=suites)
    res = info.value.result
    assert [r.description for r in res.failed] == [
        "a must not be null: 1 row failed",
        "row count must be at least 5: observed 3",
    ]
    assert "row count must be at least 5: observed 3" in str(info.value)
    assert "a must not be null" not in str(info.value)  # row-level failures are not the reason

    # five rows: the batch passes and only the null row is quarantined
    good, bad, _ = split_rows("raw__small", pd.DataFrame({"a": ["1", None, "3", "4", "5"]}), suites_dir=suites)
    assert [p for p, _ in bad] == [1] and len(good) == 4


def test_missing_column_rejects_the_batch(raw_suites):
    df = raw_batch().drop(columns=["platform"])
    with pytest.raises(BatchRejected) as info:
        split_rows("raw__test__ads", df, suites_dir=raw_suites)
    (failed,) = [r for r in info.value.result.failed if r.error]
    assert failed.expectation_type == "expect_column_values_to_be_in_set"
    assert "could not be evaluated" in failed.description and "platform" in failed.description
    # results stay in suite order although GX reports errored expectations first
    assert [r.expectation_type for r in info.value.result.results] == [x["type"] for x in RAW_SUITE]


def test_empty_batch_is_valid_without_gx(raw_suites, monkeypatch):
    def boom():
        raise AssertionError("GX must not run for an empty batch")

    monkeypatch.setattr(gx_runner, "_runtime", boom)
    empty = raw_batch().iloc[0:0]
    good, bad, result = split_rows("raw__test__ads", empty, suites_dir=raw_suites)
    assert len(good) == 0 and bad == [] and result.success and result.results == []
    with pytest.raises(FileNotFoundError):
        split_rows("raw__no_such_suite", empty, suites_dir=raw_suites)


def test_empty_dataframe_still_fails_a_row_count_gate(tmp_path):
    suites = write_suite(tmp_path, "marts__x", [e("expect_table_row_count_to_be_between", min_value=1)])
    res = validate_dataframe("marts__x", pd.DataFrame({"a": pd.Series([], dtype="float64")}), suites_dir=suites)
    assert not res.success
    assert res.failed[0].description == "row count must be at least 1: observed 0"


# ------------------------------------------------------------------ suite parameters


def test_suite_parameters_decide_the_sum_check(tmp_path):
    suites = write_suite(
        tmp_path,
        "marts__spend",
        [
            e(
                "expect_column_sum_to_be_between",
                column="spend",
                min_value={"$PARAMETER": "spend_min"},
                max_value={"$PARAMETER": "spend_max"},
            )
        ],
    )
    df = pd.DataFrame({"spend": [10.25, 20.5, 0.0]})  # sum 30.75
    ok = validate_dataframe("marts__spend", df, {"spend_min": 30.745, "spend_max": 30.755}, suites_dir=suites)
    assert ok.success
    assert ok.results[0].observed_value == pytest.approx(30.75)
    assert ok.results[0].kwargs == {"column": "spend", "min_value": 30.745, "max_value": 30.755}

    bad = validate_dataframe("marts__spend", df, {"spend_min": 31.0, "spend_max": 31.01}, suites_dir=suites)
    assert not bad.success
    assert bad.failed[0].description == "sum of spend must be between 31 and 31.01: observed 30.75"

    with pytest.raises(ValueError, match="spend_min"):
        validate_dataframe("marts__spend", df, suites_dir=suites)


def test_memoized_configurations_give_the_same_results(tmp_path, monkeypatch):
    """``Expectation.configuration`` is kept for the length of one validation call (GX rebuilds
    it on every read): the results, row lists, observed values and suite parameters as
    substituted, are the same with the memo off; and the memo really answers inside a call."""
    from great_expectations.expectations.expectation import Expectation

    suites = write_suite(tmp_path, "raw__test__ads", RAW_SUITE)
    write_suite(tmp_path, "marts__spend", [
        e("expect_column_sum_to_be_between", column="spend",
          min_value={"$PARAMETER": "spend_min"}, max_value={"$PARAMETER": "spend_max"}),
        e("expect_column_values_to_be_between", column="spend", min_value={"$PARAMETER": "spend_min"}),
    ])
    spend = pd.DataFrame({"spend": [10.25, 20.5, 0.0]})

    def outcomes():
        first = [split_rows("raw__test__ads", raw_batch(), suites_dir=suites)[1:],
                 validate_dataframe("raw__test__ads", raw_batch(), suites_dir=suites)]
        # two parameter sets in a row: a memo kept across calls would answer with the first
        return first + [validate_dataframe("marts__spend", spend, {"spend_min": lo, "spend_max": 30.755},
                                           suites_dir=suites) for lo in (-1.0, 5.0)]

    memoized = outcomes()
    monkeypatch.setattr(gx_runner, "MEMOIZE_CONFIGURATIONS", False)
    assert outcomes() == memoized
    assert memoized[1].failed and memoized[0][0]  # rows were quarantined, so row lists were compared
    # the sum (30.75) is within 5..30.755, the value 0.0 is not above 5: only the second fails
    assert [r.success for r in memoized[3].results] == [True, False]
    assert memoized[2].success

    expectation = load_suite("raw__test__ads", suites_dir=suites).expectations[0]
    assert isinstance(expectation, Expectation)
    assert expectation.configuration is not expectation.configuration  # GX's own: built anew
    monkeypatch.setattr(gx_runner, "MEMOIZE_CONFIGURATIONS", True)
    with gx_runner._configurations_memoized():
        assert expectation.configuration is expectation.configuration
    assert expectation.configuration is not expectation.configuration


def test_decimals_convert_as_gx_converts_them(caplog):
    """``_install_decimals_without_stack``: GX's ``convert_decimal_to_float`` without its stack
    scan for the rule-based profiler's ``parameter_builder.py``, which GX 1.x does not ship (so
    the scan could never match): the same floats, the same warning on a lossy value, for the
    values GX's JSON conversion hands it."""
    import decimal
    import importlib.util

    from great_expectations import util

    gx_runner._runtime()
    ours = util.convert_decimal_to_float
    assert ours.without_stack
    assert not any(p.name == "parameter_builder.py"
                   for p in Path(importlib.util.find_spec("great_expectations").origin).parent.rglob("*.py"))
    values = [decimal.Decimal("12345.67"), decimal.Decimal("0.1"), decimal.Decimal("-3"),
              decimal.Decimal("1.00000000000000000000001"), 2.5, 7]
    warnings = []
    for convert in (ours, ours.__wrapped__):
        caplog.clear()
        with caplog.at_level("WARNING", logger=util.logger.name):
            got = [convert(v) for v in values]
        warnings.append([r.getMessage() for r in caplog.records])
        assert got == [12345.67, 0.1, -3.0, 1.0, 2.5, 7.0]
    assert warnings[0] == warnings[1] and len(warnings[0]) == 1
    assert util.convert_to_json_serializable({"s": decimal.Decimal("9.5")}) == {"s": 9.5}


def test_plain_ids_are_gx_own(tmp_path, monkeypatch):
    """The metric ids taken by the shortcut (``_install_plain_ids``) are the ones GX computes:
    every id asked for while validating a raw batch with bad rows (both passes), a suite with
    parameters, and the shipped suites of the two busiest raw tables, each compared with GX's
    own ``to_id``; and the results are the same with the shortcut off. Kwargs GX converts
    (a NaN, a numpy number, a non-string key) are not taken by it."""
    import numpy as np
    from great_expectations.core.id_dict import IDDict

    suites = write_suite(tmp_path, "raw__test__ads", RAW_SUITE)
    write_suite(tmp_path, "marts__spend", [
        e("expect_column_sum_to_be_between", column="spend",
          min_value={"$PARAMETER": "spend_min"}, max_value={"$PARAMETER": "spend_max"}),
        e("expect_column_values_to_be_between", column="spend", min_value={"$PARAMETER": "spend_min"}),
    ])
    shipped = {
        "raw__meta__ads_insights": pd.DataFrame({
            "account_id": ["act_1"] * 3, "account_currency": ["EUR", "USD", "EUR"], "campaign_id": ["1", "2", "3"],
            "ad_id": ["10", "11", "x"], "date_start": ["2026-01-01", "2026-01-02", "2026-02-30"],
            "spend": ["1.5", "2", "-1"], "impressions": ["10", "20", "3"], "clicks": ["1", "0", "1"]}),
        "raw__hubspot__contacts": pd.DataFrame({
            "id": ["1", "2"], "createdate": ["2026-01-01T00:00:00Z"] * 2,
            "lastmodifieddate": ["2026-01-02T00:00:00.000Z", None], "lifecyclestage": ["lead", "customer"]}),
    }
    from great_expectations.validator.metric_configuration import MetricConfiguration

    gx_runner._runtime()
    gx_id = IDDict.to_id.__wrapped__
    asked: list[IDDict] = []  # the kwargs of every metric GX configures, as it names them
    init = MetricConfiguration.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        asked.extend([self.metric_domain_kwargs, self.metric_value_kwargs])

    def outcomes():
        out = [split_rows("raw__test__ads", raw_batch(), suites_dir=suites)[1:]]
        out += [validate_dataframe("marts__spend", pd.DataFrame({"spend": [10.25, 20.5, 0.0]}),
                                   {"spend_min": lo, "spend_max": 30.755}, suites_dir=suites) for lo in (-1.0, 5.0)]
        for suite, frame in shipped.items():
            try:
                out.append(split_rows(suite, frame)[1:])
            except BatchRejected as exc:  # a column the suite names is missing: rejected either way
                out.append(str(exc))
        return out

    monkeypatch.setattr(MetricConfiguration, "__init__", recording)
    shortcut = outcomes()
    monkeypatch.setattr(MetricConfiguration, "__init__", init)
    taken = [d for d in asked if len(d) > 1 and gx_runner._plain_json(dict(d))]
    assert len(taken) > 100 and len({gx_id(d) for d in taken}) > 20  # many ids, many distinct
    assert all(d.to_id() == gx_id(d) for d in asked)
    monkeypatch.setattr(gx_runner, "PLAIN_IDS", False)
    assert outcomes() == shortcut
    assert shortcut[0][0]  # rows were quarantined: row lists were compared

    # what GX converts is left to GX (the shortcut would spell these differently)
    for odd in ({"a": float("nan"), "b": 1}, {"a": np.int64(3), "b": 1}, {1: "a", "b": 2}, {True: 1, "b": 2}):
        assert not gx_runner._plain_json(odd) or odd.get("a") != odd.get("a")
        assert IDDict(odd).to_id() == gx_id(IDDict(odd))


# ------------------------------------------------------------------ suite files


def test_load_suite_reads_gx_own_serialization(raw_suites):
    import great_expectations as gx

    suite = load_suite("raw__test__ads", suites_dir=raw_suites)
    assert isinstance(suite, gx.ExpectationSuite)
    assert suite.name == "raw__test__ads"
    assert [x.expectation_type for x in suite.expectations] == [x["type"] for x in RAW_SUITE]
    assert suite.expectations[2].regex == DECIMAL
    assert suite.meta["description"] == "test"
    # the same JSON is GX's own format: the plain constructor accepts it as is
    data = json.loads((raw_suites / "raw__test__ads.json").read_text())
    assert len(gx.ExpectationSuite(**data).expectations) == len(RAW_SUITE)


def test_load_suite_refuses_what_gx_would_silently_drop(tmp_path):
    import great_expectations as gx

    typo = [
        e("expect_column_values_to_not_be_null", column="a"),
        e("expect_column_values_to_be_nul", column="a"),
    ]
    write_suite(tmp_path, "raw__typo", typo)
    data = json.loads((tmp_path / "raw__typo.json").read_text())
    assert len(gx.ExpectationSuite(**data).expectations) == 1  # GX logs and drops the unknown type
    with pytest.raises(ValueError, match=r"expectation #1 \('expect_column_values_to_be_nul'\)"):
        load_suite("raw__typo", suites_dir=tmp_path)

    write_suite(tmp_path, "raw__extra", [e("expect_column_sum_to_be_between", column="a", min_value=0, mostly=0.5)])
    with pytest.raises(ValueError, match="mostly"):
        load_suite("raw__extra", suites_dir=tmp_path)

    (tmp_path / "raw__v0.json").write_text(
        json.dumps({"name": "raw__v0", "expectations": [{"expectation_type": "expect_column_to_exist", "kwargs": {}}]})
    )
    with pytest.raises(ValueError, match="expectation #0"):
        load_suite("raw__v0", suites_dir=tmp_path)

    (tmp_path / "raw__renamed.json").write_text(json.dumps({"name": "raw__other", "expectations": []}))
    with pytest.raises(ValueError, match="does not match the file name"):
        load_suite("raw__renamed", suites_dir=tmp_path)

    with pytest.raises(FileNotFoundError):
        load_suite("raw__missing", suites_dir=tmp_path)


def test_default_suites_dir_is_the_repo_expectations_folder():
    repo = Path(__file__).resolve().parents[2]
    assert SUITES_DIR == repo / "expectations"
    assert (repo / "pyproject.toml").exists()


def test_edited_suite_file_is_picked_up(tmp_path):
    write_suite(tmp_path, "raw__edit", [e("expect_column_values_to_be_in_set", column="a", value_set=["x"])])
    df = pd.DataFrame({"a": ["x", "y"]})
    assert not validate_dataframe("raw__edit", df, suites_dir=tmp_path).success
    write_suite(tmp_path, "raw__edit", [e("expect_column_values_to_be_in_set", column="a", value_set=["x", "y"])])
    assert validate_dataframe("raw__edit", df, suites_dir=tmp_path).success


def test_records_for_ops_quality_results(raw_suites):
    res = validate_dataframe("raw__test__ads", raw_batch(), suites_dir=raw_suites)
    records = res.to_records()
    assert len(records) == len(RAW_SUITE)
    for rec in records:
        assert {"suite", "expectation_type", "kwargs", "success", "unexpected_count", "observed_value"} <= set(rec)
        assert rec["suite"] == "raw__test__ads"
        json.loads(rec["kwargs"])
    assert records[4]["column"] == "date_start,ad_id"
    assert json.loads(records[4]["kwargs"]) == {"column_list": ["date_start", "ad_id"]}
    assert records[4]["unexpected_count"] == 2 and records[4]["success"] is False


def test_no_progress_bars(raw_suites, capfd):
    validate_dataframe("raw__test__ads", raw_batch(), suites_dir=raw_suites)
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err


def test_concurrent_validations_do_not_mix_batches(raw_suites):
    """The pipeline validates batches from several threads; GX shares one execution engine."""
    frames = []
    for k in range(8):
        df = raw_batch()
        df["ad_id"] = [f"{k}{i:03d}" for i in range(10)]  # no duplicate grain
        df.loc[k, "campaign_id"] = None  # one bad row, a different one per thread
        frames.append(df)
    out: dict[int, list] = {}

    def work(k):
        for _ in range(3):
            _, bad, _ = split_rows("raw__test__ads", frames[k], suites_dir=raw_suites)
            out.setdefault(k, []).append([p for p, _ in bad])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # row 3 and 7 keep their own defects (bad decimal, tiktok) besides the injected null
    for k in range(8):
        assert out[k] == [sorted({k, 3, 7})] * 3


# ------------------------------------------------------------------ marts: PostgreSQL in-database

MART_SUITE = [
    e("expect_table_row_count_to_be_between", min_value=1),
    e("expect_compound_columns_to_be_unique", column_list=["date_day", "platform", "campaign_id"]),
    e("expect_column_values_to_not_be_null", column="campaign_id"),
    e("expect_column_values_to_be_between", column="ctr", min_value=0, max_value=1),
    e(
        "expect_column_sum_to_be_between",
        column="spend",
        min_value={"$PARAMETER": "spend_min"},
        max_value={"$PARAMETER": "spend_max"},
    ),
]
MART_DDL = "create table {t} (date_day date, platform varchar, campaign_id varchar, spend double precision, ctr double precision)"
GOOD_ROWS = [
    ("2024-05-01", "meta", "c1", 10.0, 0.5),
    ("2024-05-01", "meta", "c2", 5.5, None),  # a rate with no denominator is NULL: allowed
    ("2024-05-01", "google", "c1", 4.5, 1.0),
    ("2024-05-02", "meta", "c1", 0.0, 0.0),
]  # spend 20.0
BAD_ROWS = [*GOOD_ROWS, ("2024-05-01", "meta", "c2", 1.0, 1.5)]  # duplicate grain, rate > 1; spend 21.0
SPEND_20 = {"spend_min": 19.995, "spend_max": 20.005}


def _create_mart(conn, qualified: str, rows) -> None:
    conn.execute(text(MART_DDL.format(t=qualified)))
    conn.execute(
        text(f"insert into {qualified} values (cast(:d as date), :p, :c, :s, :r)"),
        [dict(zip("dpcsr", r, strict=True)) for r in rows],
    )


@pytest.fixture(scope="module")
def pg_schema():
    url = pg.create_database()
    schema = f"gx_runner_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
        _create_mart(conn, f'"{schema}".mart_good', GOOD_ROWS)
        _create_mart(conn, f'"{schema}".mart_bad', BAD_ROWS)
    try:
        yield url, schema
    finally:
        engine.dispose()
        pg.drop_database(url)


@pytest.fixture
def mart_suites(tmp_path) -> Path:
    return write_suite(tmp_path, "marts__test", MART_SUITE)


def test_postgres_mart_passes_in_database(pg_schema, mart_suites):
    url, schema = pg_schema
    res = validate_sql_table("marts__test", url, schema, "mart_good", SPEND_20, suites_dir=mart_suites)
    assert res.success, str(res)
    assert [r.expectation_type for r in res.results] == [x["type"] for x in MART_SUITE]
    assert res.results[0].observed_value == 4
    assert res.results[4].observed_value == pytest.approx(20.0)


def test_postgres_mart_failures_are_reported(pg_schema, mart_suites):
    url, schema = pg_schema
    res = validate_sql_table("marts__test", url, schema, "mart_bad", SPEND_20, suites_dir=mart_suites)
    assert not res.success
    failed = {r.expectation_type: r for r in res.failed}
    assert set(failed) == {
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_between",
        "expect_column_sum_to_be_between",
    }
    grain = failed["expect_compound_columns_to_be_unique"]
    assert grain.unexpected_count == 2
    assert grain.description.startswith("grain (date_day, platform, campaign_id) must be unique: 2 rows failed")
    assert "meta, c2" in grain.description
    rate = failed["expect_column_values_to_be_between"]
    assert rate.unexpected_count == 1  # the NULL rate is not a failure
    assert rate.description == "ctr must be between 0 and 1: 1 row failed (e.g. 1.5)"
    assert failed["expect_column_sum_to_be_between"].description == (
        "sum of spend must be between 19.995 and 20.005: observed 21"
    )
    # with the reconciled total the sum passes; the other two still fail
    res21 = validate_table(
        "marts__test", url, schema, "mart_bad", {"spend_min": 20.995, "spend_max": 21.005}, suites_dir=mart_suites
    )
    assert {r.expectation_type for r in res21.failed} == {
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_between",
    }


def test_postgres_missing_table_is_an_error(pg_schema, mart_suites):
    url, schema = pg_schema
    with pytest.raises(ConnectionError, match="no_such_mart"):
        validate_sql_table("marts__test", url, schema, "no_such_mart", SPEND_20, suites_dir=mart_suites)


def test_postgres_revalidation_sees_current_data(pg_schema, tmp_path, mart_suites):
    url, schema = pg_schema
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _create_mart(conn, f'"{schema}".mart_changing', GOOD_ROWS)
        assert validate_table("marts__test", engine, schema, "mart_changing", SPEND_20, suites_dir=mart_suites).success
        with engine.begin() as conn:
            conn.execute(text(f"insert into \"{schema}\".mart_changing values ('2024-05-02', 'meta', 'c1', 0, 2)"))
        res = validate_table("marts__test", engine, schema, "mart_changing", SPEND_20, suites_dir=mart_suites)
        assert {r.expectation_type for r in res.failed} == {
            "expect_compound_columns_to_be_unique",
            "expect_column_values_to_be_between",
        }
        # a table rebuilt with a different shape (dbt recreates tables) is seen as it is now
        with engine.begin() as conn:
            conn.execute(text(f'drop table "{schema}".mart_changing'))
            conn.execute(text(f'create table "{schema}".mart_changing (date_day date)'))
        res = validate_table("marts__test", engine, schema, "mart_changing", SPEND_20, suites_dir=mart_suites)
        assert not res.success
        assert any(r.error and "campaign_id" in r.error for r in res.failed)
    finally:
        engine.dispose()


def test_postgres_connections_closed_and_datasources_bounded(pg_schema, mart_suites, monkeypatch):
    url, schema = pg_schema
    tag = f"gx_runner_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in url else "?"
    urls = [f"{url}{sep}application_name={tag}_a", f"{url}{sep}application_name={tag}_b"]
    monkeypatch.setattr(gx_runner, "_MAX_SQL_SOURCES", 1)
    for u in [*urls, urls[0]]:
        assert validate_sql_table("marts__test", u, schema, "mart_good", SPEND_20, suites_dir=mart_suites).success
    rt = gx_runner._runtime()
    assert list(rt.sql_sources) == [urls[0]]
    assert [k for k in rt.sql_batches if k[0] in urls] == [(urls[0], schema, "mart_good")]
    names = [ds.name for ds in rt.context.data_sources.all().values()]
    assert sum(n.startswith("revops_sql_") for n in names) == 1
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            left = conn.execute(
                text("select count(*) from pg_stat_activity where application_name like :t"), {"t": f"{tag}%"}
            ).scalar()
    finally:
        engine.dispose()
    assert left == 0  # no pooled connection outlives a validation


# ------------------------------------------------------------------ marts: DuckDB via pandas


@pytest.fixture
def duck(tmp_path):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create schema marts_build"))
        _create_mart(conn, "marts_build.mart_good", GOOD_ROWS)
        _create_mart(conn, "marts_build.mart_bad", BAD_ROWS)
    engine.dispose()
    return url


def test_duckdb_mart_validated_as_dataframe(duck, mart_suites):
    ok = validate_table("marts__test", duck, "marts_build", "mart_good", SPEND_20, suites_dir=mart_suites)
    assert ok.success, str(ok)
    assert ok.results[4].observed_value == pytest.approx(20.0)

    bad = validate_table("marts__test", duck, "marts_build", "mart_bad", SPEND_20, suites_dir=mart_suites)
    failed = {r.expectation_type: r for r in bad.failed}
    assert set(failed) == {
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_between",
        "expect_column_sum_to_be_between",
    }
    assert failed["expect_compound_columns_to_be_unique"].unexpected_index_list == [1, 4]
    assert failed["expect_column_values_to_be_between"].unexpected_index_list == [4]


def test_duckdb_file_is_released_after_validation(duck, mart_suites):
    import duckdb

    validate_table("marts__test", duck, "marts_build", "mart_good", SPEND_20, suites_dir=mart_suites)
    # a different configuration (read_only) can only open the file if no connection is left open
    con = duckdb.connect(duck.removeprefix("duckdb:///"), read_only=True)
    try:
        assert con.execute("select count(*) from marts_build.mart_good").fetchone()[0] == 4
    finally:
        con.close()


def test_duckdb_with_an_open_warehouse_engine(duck, mart_suites):
    """The pipeline keeps its own engine on the file while the gate runs (same process)."""
    engine = create_engine(duck)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from marts_build.mart_bad")).scalar() == 5
            res = validate_table("marts__test", duck, "marts_build", "mart_bad", SPEND_20, suites_dir=mart_suites)
            assert not res.success
        res = validate_table("marts__test", engine, "marts_build", "mart_good", SPEND_20, suites_dir=mart_suites)
        assert res.success
        with engine.connect() as conn:  # the engine passed in is still usable
            assert conn.execute(text("select 1")).scalar() == 1
    finally:
        engine.dispose()


def test_unsupported_warehouse(tmp_path, mart_suites):
    with pytest.raises(ValueError, match="unsupported"):
        validate_table("marts__test", f"sqlite:///{tmp_path / 'x.db'}", "main", "t", suites_dir=mart_suites)


def test_each_thread_validates_with_its_own_runtime(raw_suites):
    """No process-wide lock: a thread's validations use its own GX context, so sources
    extracting concurrently validate in parallel (issue 15)."""
    seen: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def work(name):
        barrier.wait()
        split_rows("raw__test__ads", raw_batch(), suites_dir=raw_suites)
        seen[name] = gx_runner._runtime()
        assert gx_runner._runtime() is seen[name]  # reused within a thread

    threads = [threading.Thread(target=work, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen) == {"a", "b"}
    assert seen["a"] is not seen["b"]
    assert seen["a"].context is not seen["b"].context


def test_gx_sees_the_columns_the_suite_reads_and_all_of_them_when_it_checks_the_set(tmp_path):
    """GX gets only the columns a suite names (it filters and hashes the whole frame per
    metric), unless an expectation is about the table's columns themselves."""
    df = raw_batch().assign(unused=lambda d: d["ad_id"] + "-x")
    suites = write_suite(tmp_path / "suites", "raw__test__ads", [
        *RAW_SUITE, e("expect_table_columns_to_match_set", column_set=list(df.columns), exact_match=True)])
    good, bad, result = split_rows("raw__test__ads", df, suites_dir=suites)
    assert result.results[-1].success  # every column was there for the set check
    assert [p for p, _ in bad] == [3, 7] and len(good) == 8 and list(good.columns) == list(df.columns)
    rt = gx_runner._runtime()
    assert rt.columns_read("raw__test__ads", suites) is None
    write_suite(tmp_path / "slim", "raw__test__ads", RAW_SUITE)
    assert rt.columns_read("raw__test__ads", tmp_path / "slim") == {
        "campaign_id", "ad_id", "spend", "platform", "date_start"}
    good, bad, _ = split_rows("raw__test__ads", df, suites_dir=tmp_path / "slim")
    assert [p for p, _ in bad] == [3, 7] and list(good.columns) == list(df.columns)
