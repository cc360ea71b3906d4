"""The project's own GX expectation, ``expect_column_values_to_be_iso_dates``
(revops.quality.gx_expectations): the same verdict as ``datetime.strptime(v, "%Y-%m-%d")`` on every
zero-padded value, stricter on the rest, and through GX a quarantined row with its reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from revops.quality import gx_runner
from revops.quality.gx_runner import split_rows
from tests.quality.test_gx_runner import e, write_suite

gx_runner._import_gx()  # registers the expectation (as every validation does first)
from revops.quality.gx_expectations import iso_dates  # noqa: E402


def _strptime_ok(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%d")  # noqa: DTZ007 - a calendar check, no zone
        return True
    except ValueError:
        return False


def test_agrees_with_strptime_on_every_zero_padded_value() -> None:
    # every month and day number 00-39 in years around the leap-year rules (1900, 2000, 2100:
    # centuries; 2024: a leap year; 0001 and 9999: the ends of the range; 0000: not a year)
    values = [f"{y:04d}-{m:02d}-{d:02d}" for y in (0, 1, 1900, 2000, 2023, 2024, 2100, 9999)
              for m in range(14) for d in range(40)]
    got = iso_dates(pd.Series(values)).tolist()
    want = [_strptime_ok(v) for v in values]
    assert [v for v, g, w in zip(values, got, want, strict=True) if g != w] == []
    assert sum(want) == 7 * 365 + 2  # 0000 is no year; of the other seven 2000 and 2024 leap


def test_every_day_of_four_years_passes_and_the_impossible_ones_fail() -> None:
    days = [(date(2023, 1, 1) + timedelta(n)).isoformat() for n in range(4 * 366)]
    assert iso_dates(pd.Series(days)).all()
    bad = ["2026-02-29", "2026-02-30", "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00",
           "2026-1-5", "26-01-05", "2026-01-05T00:00:00", " 2026-01-05", "", "not a date", "2026/01/05",
           "２０２６-01-05", "٢٠٢٦-01-05"]  # digits of other scripts: not the format
    assert not iso_dates(pd.Series(bad)).any()


def test_quarantines_the_row_with_its_rule(tmp_path) -> None:
    suites = write_suite(tmp_path, "raw__dates", [e("expect_column_values_to_be_iso_dates", column="day")])
    df = pd.DataFrame({"day": ["2026-02-28", "2026-02-30", None, "2024-02-29", "2026-2-01"]})
    good, bad, result = split_rows("raw__dates", df, suites_dir=suites)
    assert good["day"].fillna("<null>").tolist() == ["2026-02-28", "<null>", "2024-02-29"]  # null: not its rule
    assert [pos for pos, _ in bad] == [1, 4]
    assert bad[0][1] == [
        "day must be a calendar date formatted %Y-%m-%d: 2 rows failed (e.g. '2026-02-30', '2026-2-01')"
        " [test expect_column_values_to_be_iso_dates]"]
    assert not result.success
