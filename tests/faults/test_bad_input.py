"""Bad input is caught where it enters, and valid-but-unusual input (credit notes) flows through.

Finance's offline CSV is typed by hand: every value that would later break a staging cast (an
impossible date, an amount too large for DECIMAL(18, 6), a currency the ECB has no rate for) is
quarantined by the raw suite with ``file|line`` and the rule, like ``TBD`` and lower-case
``usd`` already were; a credit note (negative amount) loads and nets in the marts. The ECB being
unreachable fails nothing when no conversion needs a new rate.

Most cases stop after the load (one sync of the offline source per engine, shared by the cases);
one run per engine goes through dbt to prove the build is then fine and the credit note nets.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.quality.gx_runner import split_rows
from revops.sandbox import truth
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig, offline_campaign_id
from tests.kpi_compare import diff_rows

pytestmark = pytest.mark.faults

#: offline spend (USD, GBP, EUR bookings) and a USD ad platform, 20 days of June 2026
WORLD = World(WorldConfig(seed=11, days=20, platforms=("offline", "microsoft_ads")))
SAASTR = "SaaStr Annual 2026"
CREDIT_DAY = "2026-06-08"  # SaaStr has spend that day in this world (USD, the reporting currency)

#: case -> (line as finance typed it, words the quarantine reason must contain)
BAD_LINES = {
    "impossible date": (("2026-02-30", "events", SAASTR, "100.00", "USD"), ["date", "%Y-%m-%d"]),
    "amount too large for DECIMAL(18,6)": (
        ("2026-06-08", "events", SAASTR, "1234567890123.00", "USD"), ["amount", "must not match", "12,"]),
    "currency with no ECB rate": (("2026-06-08", "print", "Trade Journal Print", "500.00", "XYZ"),
                                  ["currency", "one of"]),
    "amount TBD": (("2026-06-08", "events", SAASTR, "TBD", "USD"), ["amount"]),
    "lower-case currency": (("2026-06-08", "events", SAASTR, "10.00", "usd"), ["currency"]),
}
CREDIT_NOTE = (CREDIT_DAY, "events", SAASTR, "-150.00", "USD")
EXTRA = [line for line, _ in BAD_LINES.values()] + [CREDIT_NOTE]


def _url(engine: str, tmp_path_factory) -> tuple[str, object]:
    if engine == "duckdb":
        return f"duckdb:///{tmp_path_factory.mktemp('badin') / 'warehouse.duckdb'}", None
    from tests.conftest import create_pg_database, drop_pg_database

    return create_pg_database(), drop_pg_database


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def loaded(request, tmp_path_factory):
    """The offline source synced once into raw (no dbt) with the bad lines and a credit note."""
    url, cleanup = _url(request.param, tmp_path_factory)
    try:
        with sandboxes(WORLD) as sb:
            app = sb.app("offline")
            app.extra_lines = list(EXTRA)
            where = dict(zip(EXTRA, app.extra_line_numbers(), strict=True))
            settings = sb.settings(warehouse_url=url, data_dir=tmp_path_factory.mktemp("badin-data"),
                                   http_max_backoff_seconds=0.02)
            wh, run_id = pipeline.prepare(settings, "test")
            with wh:
                pipeline.sync_source(settings, wh, run_id, "offline")
                quarantined = {r["record_key"]: r for r in wh.fetch_all(
                    "select record_key, reasons, record from ops.quarantine where source = 'offline'")}
                raw_keys = {f"{r['file_name']}|{r['line_number']}": r for r in wh.fetch_all(
                    "select file_name, line_number, amount, currency from raw.offline__spend_lines")}
        yield {"where": where, "quarantined": quarantined, "raw": raw_keys}
    finally:
        if cleanup:
            cleanup(url)


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_bad_offline_line_is_quarantined_with_file_line_and_rule(loaded, case):
    line, words = BAD_LINES[case]
    file_name, number = loaded["where"][line]
    key = f"{file_name}|{number}"
    assert key in loaded["quarantined"], f"{case}: {key} not quarantined"
    assert key not in loaded["raw"], f"{case}: {key} loaded into raw as well"
    reasons = loaded["quarantined"][key]["reasons"]
    for word in words:
        assert word in reasons, (case, reasons)


def test_credit_note_loads_as_a_valid_line(loaded):
    file_name, number = loaded["where"][CREDIT_NOTE]
    key = f"{file_name}|{number}"
    assert key not in loaded["quarantined"]
    assert loaded["raw"][key]["amount"] == "-150.00"


# --- the ad platforms' suites: the same rules where platform rows enter (engine-independent GX) --
@pytest.mark.parametrize(("suite", "row", "column"), [
    ("raw__meta__ads_insights", {"date_start": "2026-02-30"}, "date_start"),
    ("raw__meta__ads_insights", {"spend": "12345678901234.50"}, "spend"),
    ("raw__meta__ads_insights", {"account_currency": "XYZ"}, "account_currency"),
    ("raw__microsoft_ads__ad_performance", {"TimePeriod": "2026-04-31"}, "TimePeriod"),
    ("raw__microsoft_ads__ad_performance", {"CurrencyCode": "ARS"}, "CurrencyCode"),
    ("raw__google_ads__ad_group_ad_daily", {"metrics_cost_micros": "1" * 19}, "metrics_cost_micros"),
    ("raw__linkedin__ad_analytics", {"date_start": "2026-13-01"}, "date_start"),
    ("raw__ecb__rates", {"rate_date": "2026-02-29"}, "rate_date"),
    ("raw__ecb__rates", {"rate": "1234567890123.5"}, "rate"),
])
def test_platform_value_that_would_break_a_cast_is_a_bad_row(suite, row, column):
    good = {
        "raw__meta__ads_insights": {"ad_id": "1", "date_start": "2026-06-01", "campaign_id": "2",
                                    "account_id": "3", "spend": "12.50", "impressions": "10",
                                    "clicks": "1", "account_currency": "USD"},
        "raw__microsoft_ads__ad_performance": {
            "AdId": "1", "TimePeriod": "2026-06-01", "AccountId": "2", "CampaignId": "3", "AdGroupId": "4",
            "Spend": "1.50", "Impressions": "10", "Clicks": "1", "ConversionsQualified": "0",
            "Revenue": "0", "CurrencyCode": "USD"},
        "raw__google_ads__ad_group_ad_daily": {
            "ad_group_ad_ad_id": "1", "ad_group_id": "2", "segments_date": "2026-06-01", "campaign_id": "3",
            "customer_id": "1234567890", "customer_currency_code": "USD", "metrics_cost_micros": "1500000",
            "metrics_impressions": "10", "metrics_clicks": "1", "metrics_conversions": "0",
            "metrics_conversions_value": "0"},
        "raw__linkedin__ad_analytics": {
            "pivot_value": "urn:li:sponsoredCreative:1", "date_start": "2026-06-01", "account_urn": "a",
            "costInLocalCurrency": "1.5", "impressions": "10", "clicks": "1",
            "externalWebsiteConversions": "0", "conversionValueInLocalCurrency": "0"},
        "raw__ecb__rates": {"rate_date": "2026-06-01", "currency": "USD", "rate": "1.0850"},
    }[suite]
    frame = pd.DataFrame([good, {**good, **row}])
    kept, bad, _ = split_rows(suite, frame)
    assert len(kept) == 1 and [pos for pos, _ in bad] == [1], bad
    assert any(column in reason for reason in bad[0][1]), bad


# --- through dbt: the build is fine, the credit note nets, the ECB may be down ----------------
@pytest.mark.slow
def test_bad_lines_never_reach_dbt_credit_note_nets_and_an_unreachable_ecb_fails_nothing(warehouse_url, tmp_path):
    """One run per engine: the ECB answers 503 to everything, finance's file has the bad lines and
    a credit note. The build is fine; every row in the reporting currency (Microsoft Ads, the USD
    event) publishes and equals the truth, the credit note netted; the GBP and EUR bookings, which
    need a rate the warehouse does not have, are held back and quarantined naming the currency."""
    with sandboxes(WORLD) as sb:
        sb.app("offline").extra_lines = list(EXTRA)
        sb.app("ecb").faults.add("server_error", times=10_000)
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path, http_max_backoff_seconds=0.02,
                               http_max_retries=1)
        result = pipeline.run(settings, "test")
    assert "kpi_channel_daily" in result.published
    with Warehouse(warehouse_url) as wh:
        status = wh.scalar("select status from ops.runs where run_id = :r", r=result.run_id)
        got = wh.fetch_all("select * from marts.kpi_channel_daily")
        assert wh.scalar("select count(*) from raw.ecb__rates") == 0  # nothing could be fetched
        quarantined = wh.fetch_all("select source, stream, record_key, reasons from ops.quarantine")
        ecb = wh.fetch_all("select status, error from ops.source_freshness where source = 'ecb'")
    # the ECB failed like any source: the run degrades (exit code 3), the rates say so
    assert status == "completed_with_warnings" and result.failed.keys() == {"ecb"}
    assert [r["status"] for r in ecb] == ["failed"] and ecb[0]["error"]
    bad_lines = [q for q in quarantined if q["stream"] == "spend_lines"]
    assert len(bad_lines) == len(BAD_LINES)
    held = [q for q in quarantined if q["stream"] == "ad_daily"]
    non_usd = {offline_campaign_id(c.name): c.currency for c in WORLD.campaigns
               if c.platform == "offline" and c.currency != "USD"}
    assert {q["record_key"].split("|")[2] for q in held} == set(non_usd)
    assert all(q["reasons"].startswith(f"no ECB rate for {non_usd[q['record_key'].split('|')[2]]}") for q in held)
    keys = ("date_day", "platform", "campaign_id", "channel")
    want = [dict(r) for r in truth.kpi_channel_daily(WORLD) if r["campaign_id"] not in non_usd]
    credit = next(r for r in want if (r["date_day"].isoformat(), r["platform"], r["campaign_id"])
                  == (CREDIT_DAY, "offline", offline_campaign_id(SAASTR)))
    assert credit["spend"] > 0
    credit["spend"] += Decimal("-150.00")  # the credit note nets against the day's booking
    for ratio, count in (("cpl", "leads"), ("cost_per_mql", "mqls"), ("cost_per_sql", "sqls"), ("cac", "customers")):
        credit[ratio] = credit["spend"] / credit[count] if credit[count] else None
    credit["roas"] = credit["revenue_won"] / credit["spend"]
    problems = diff_rows([r for r in got if r["campaign_id"] not in non_usd], want, keys)
    assert not problems, problems
    assert not [r for r in got if r["campaign_id"] in non_usd and r["spend"] != 0]
