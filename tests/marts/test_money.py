"""Money is numeric from raw to marts, with one rounding rule (docs/metrics.md, "Money").

A month of spend summed two ways gets the same cents: from the rows as they entered (each
platform's staged ``spend_native`` and currency, ECB rates as stored in raw), converted here in
exact Python arithmetic with the stated rule, and from the published marts. Assertions on the
session's shared warehouse (no build of its own)."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date
from decimal import Decimal
from fractions import Fraction

from revops.load.warehouse import Warehouse

PLATFORMS = ("meta", "google_ads", "linkedin", "microsoft_ads", "offline")
CENT = Decimal("0.01")


def _cents(value: Fraction) -> Decimal:
    """Half away from zero, to cents: written here again, not imported from the truth."""
    q = value * 100
    n = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    return Decimal(n if q >= 0 else -n) * CENT


def _as_date(v) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _spend_by_month_from_rows(wh: Warehouse, reporting: str) -> dict[date, Decimal]:
    rates: dict[date, dict[str, Fraction]] = defaultdict(dict)
    for r in wh.fetch_all("select rate_date, currency, rate from raw.ecb__rates where rate is not null"):
        rates[_as_date(r["rate_date"])][r["currency"]] = Fraction(str(r["rate"]))
    days = sorted(rates)
    by_month: dict[date, Decimal] = defaultdict(Decimal)
    for p in PLATFORMS:
        for r in wh.fetch_all(f"select date_day, currency, spend_native from staging.stg_{p}__ad_daily"):
            day, cur = _as_date(r["date_day"]), r["currency"]
            native = Fraction(str(r["spend_native"]))
            if cur == reporting:
                spend = _cents(native)
            else:
                pub = rates[days[bisect_right(days, day) - 1]]
                src = Fraction(1) if cur == "EUR" else pub[cur]
                rep = Fraction(1) if reporting == "EUR" else pub[reporting]
                spend = _cents(native * rep / src)
            by_month[day.replace(day=1)] += spend
    return by_month


def test_a_month_of_spend_sums_to_the_same_cents_from_rows_and_from_the_marts(built_warehouse):
    reporting = built_warehouse["settings"].reporting_currency
    with Warehouse(built_warehouse["url"]) as wh:
        from_rows = _spend_by_month_from_rows(wh, reporting)
        scorecard = {_as_date(r["month"]): r["spend"]
                     for r in wh.fetch_all("select month, spend from marts.kpi_scorecard_monthly")}
        channel = defaultdict(Decimal)
        for r in wh.fetch_all("select date_day, spend from marts.kpi_channel_daily"):
            channel[_as_date(r["date_day"]).replace(day=1)] += Decimal(r["spend"])
    months = sorted(m for m, v in from_rows.items() if v)
    assert len(months) >= 2, "the shared world spans at least two months of spend"
    for m in months:
        # Decimal from both engines (numeric), so the comparison is exact, not within a tolerance
        assert isinstance(scorecard[m], Decimal), type(scorecard[m])
        assert scorecard[m] == from_rows[m], (m, scorecard[m], from_rows[m])
        assert channel[m] == from_rows[m], (m, channel[m], from_rows[m])


def test_published_money_columns_are_numeric_with_two_places(built_warehouse):
    """spend reads back as a Decimal of cents on both engines (never a float like 173472.3272006097)."""
    with Warehouse(built_warehouse["url"]) as wh:
        for table in ("kpi_channel_daily", "kpi_scorecard_monthly", "kpi_attribution"):
            rows = wh.fetch_all(f"select spend from marts.{table} where spend <> 0")
            assert rows, table
            for r in rows:
                assert isinstance(r["spend"], Decimal), (table, type(r["spend"]))
                assert r["spend"] == r["spend"].quantize(CENT), (table, r["spend"])
