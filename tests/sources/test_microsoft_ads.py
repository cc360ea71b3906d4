"""Microsoft Advertising connector against its sandbox over real HTTP (127.0.0.1), and the
round trip sandbox -> connector -> warehouse -> dbt staging on DuckDB and PostgreSQL.

The sandbox shows a small synthetic world at a clock; the connector must end up with exactly the
world's rows (UTC days), across the async report flow, its faults, OAuth refreshes and restated
provisional days.
"""

from __future__ import annotations

import io
import logging
import secrets
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.microsoft_ads import DEVELOPER_TOKEN, MicrosoftAdsSandbox
from revops.sandbox.world import PROVISIONAL_DAYS, AdDay, World, WorldConfig
from revops.settings import Settings, settings_from_env
from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.microsoft_ads import SPEC
from revops.sources.microsoft_ads.client import SECRET_ENV
from revops.sources.microsoft_ads.streams import (
    REPORT_COLUMNS,
    MicrosoftAdsSource,
    ReportFailedError,
    ReportTimeoutError,
    parse_report,
)

SANDBOX = get_sandbox("microsoft_ads")

TOKEN = secrets.token_urlsafe(24)
ACCOUNT = "180456789"
Key = tuple[str, str]


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(days=20, platforms=("microsoft_ads",)))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token=TOKEN)) as srv:
        yield srv


@pytest.fixture
def app(server: SandboxServer, world: World) -> Iterator[MicrosoftAdsSandbox]:
    sandbox = server.app
    assert isinstance(sandbox, MicrosoftAdsSandbox)
    sandbox.as_of = world.now
    sandbox.faults.clear()
    sandbox.log.clear()
    sandbox.token_forms.clear()
    yield sandbox
    sandbox.faults.clear()


def env_for(server: SandboxServer, world: World, **extra: str) -> dict[str, str]:
    return {
        **SANDBOX.env(server.url, TOKEN, world),
        "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.05",
        **extra,
    }


@pytest.fixture
def make_source(server: SandboxServer, world: World, app: MicrosoftAdsSandbox) -> Callable[..., MicrosoftAdsSource]:
    """A connector built from REVOPS_* variables; its "today" is the sandbox clock."""

    def build(**extra: str) -> MicrosoftAdsSource:
        settings = settings_from_env(env_for(server, world, **extra))
        return MicrosoftAdsSource(settings, clock=lambda: app.as_of)

    return build


def read(source: MicrosoftAdsSource, stream_name: str, state: dict | None = None):
    stream = next(s for s in source.streams if s.name == stream_name)
    batches = list(source.read(stream, state))
    rows = [r for b in batches for r in b.records.to_pylist()]
    states = [b.state for b in batches if b.state is not None]
    return rows, batches, (states[-1] if states else state)


def world_rows(world: World, as_of: datetime) -> dict[Key, AdDay]:
    return {(r.ad.ad_id, r.day.isoformat()): r for r in world.ad_days_as_of(as_of, "microsoft_ads")}


def by_key(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    return {(r["AdId"], r["TimePeriod"]): r for r in rows}


def assert_rows_equal_world(rows: dict[Key, dict[str, Any]], want: dict[Key, AdDay]) -> None:
    assert set(rows) == set(want)
    for key, truth in want.items():
        got = rows[key]
        assert all(v is None or isinstance(v, str) for v in got.values()), "stored as strings"
        assert Decimal(got["Spend"]) == truth.spend, key
        assert got["Spend"] == f"{truth.spend:.2f}", "two decimals, as the CSV has them"
        assert int(got["Impressions"]) == truth.impressions, key
        assert int(got["Clicks"]) == truth.clicks, key
        assert Decimal(got["ConversionsQualified"]) == truth.platform_leads, key
        assert got["Revenue"] == "0.00"
        assert got["AccountId"] == truth.ad.account_id
        assert got["CampaignId"] == truth.ad.campaign_id
        assert got["AdGroupId"] == truth.ad.ad_group_id
        assert got["AdGroupName"] == truth.ad.ad_group_name
        assert got["AdTitle"] == truth.ad.ad_name
        assert got["CurrencyCode"] == "USD"


def submits(app: MicrosoftAdsSandbox) -> list[dict[str, Any]]:
    return [r.body["ReportRequest"] for r in app.requests_to("/GenerateReport/Submit")]


def report_range(spec: dict[str, Any]) -> tuple[date, date]:
    t = spec["Time"]
    s, e = t["CustomDateRangeStart"], t["CustomDateRangeEnd"]
    return date(s["Year"], s["Month"], s["Day"]), date(e["Year"], e["Month"], e["Day"])


# --- registry and settings ------------------------------------------------------------------------
def test_spec_points_settings_at_the_sandbox(server, world):
    s = settings_from_env(env_for(server, world))
    assert s.microsoft_ads_reporting_url == s.microsoft_ads_campaign_url == server.url
    assert s.microsoft_ads_token_url.startswith(server.url)
    assert s.microsoft_ads_refresh_token.get_secret_value() == TOKEN
    assert s.microsoft_ads_account_ids == [ACCOUNT]
    assert SPEC.configured(s) and SPEC.refreshes_auth and SPEC.restates
    assert SPEC.secret_env == SECRET_ENV == "REVOPS_MICROSOFT_ADS_REFRESH_TOKEN"
    assert SANDBOX.small_pages_env is None  # one zip file per report: nothing to page
    assert not SPEC.configured(Settings(_env_file=None))
    source = SPEC.build(s)
    assert [st.name for st in source.streams] == ["accounts", "campaigns", "ad_performance"]
    assert source.streams[2].lookback == 7 and source.streams[2].cursor_field == "TimePeriod"


# --- reading --------------------------------------------------------------------------------------
def test_full_read_matches_the_world_with_the_real_request_shape(app, world, make_source):
    source = make_source()
    rows, batches, state = read(source, "ad_performance")
    assert len(rows) == len(by_key(rows)), "duplicate keys"
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert state == {"accounts": {ACCOUNT: world.end.isoformat()}}

    spec = submits(app)[0]
    assert spec["Type"] == "AdPerformanceReportRequest"
    assert spec["Aggregation"] == "Daily" and "TimePeriod" in spec["Columns"], "Daily needs TimePeriod"
    assert "ConversionsQualified" in spec["Columns"] and "Conversions" not in spec["Columns"]
    assert spec["Format"] == "Csv" and spec["FormatVersion"] == "2.0"
    assert spec["Scope"] == {"AccountIds": [int(ACCOUNT)]}
    assert report_range(spec)[0] == world.start
    ranges = [report_range(s) for s in submits(app)]
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in zip(ranges, ranges[1:])), "no gap"

    for r in app.requests_to("/Reporting/"):
        assert r.headers["Developertoken"] == DEVELOPER_TOKEN
        assert r.headers["Customeraccountid"] == ACCOUNT and r.headers["Customerid"]
        assert r.headers["Authorization"].startswith("Bearer ")
    downloads = app.requests_to("/reports/")
    assert downloads and all("Authorization" not in r.headers for r in downloads), \
        "the pre-signed URL gets no bearer token"
    (form,) = app.token_forms
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == TOKEN
    assert form["scope"] == "https://ads.microsoft.com/msads.manage offline_access"
    assert form["client_id"] and "client_secret" not in form  # a public client needs none


def test_accounts_and_campaigns(app, world, make_source):
    source = make_source()
    (account,), _, state = read(source, "accounts")
    assert state is None  # full refresh
    assert account["Id"] == ACCOUNT  # a JSON number, stored as text
    assert account["CurrencyCode"] == "USD"
    assert account["TimeZone"] == "PacificTimeUSCanadaTijuana"  # the account's own setting
    campaigns, _, _ = read(source, "campaigns")
    assert {(c["Id"],) for c in campaigns} == app.expected_keys("campaigns")
    names = {c.campaign_id: c.name_as_of(app.as_of) for c in world.campaigns}
    assert all(c["Name"] == names[c["Id"]] and c["AccountId"] == ACCOUNT for c in campaigns)
    (query,) = app.requests_to("/Campaigns/QueryByAccountId")
    assert "Search" in query.body["CampaignType"].split() and len(query.body["CampaignType"].split()) > 1, \
        "without CampaignType only Search campaigns come back"


def test_report_days_are_utc_days_not_the_accounts_pacific_days(app, world, make_source):
    """At 03:00 UTC it is still yesterday in Los Angeles (the account's zone), but report days
    are UTC: today's UTC day exists and must be asked for and read."""
    utc_day = world.start + timedelta(days=11)
    app.as_of = datetime.combine(utc_day, time(3), UTC)
    rows, _, state = read(make_source(), "ad_performance")
    assert set(by_key(rows)) == app.expected_keys("ad_performance")
    assert state == {"accounts": {ACCOUNT: utc_day.isoformat()}}
    assert report_range(submits(app)[-1])[1] == utc_day
    assert {r["TimePeriod"] for r in rows} >= {utc_day.isoformat()}


def test_report_file_is_parsed_by_finding_the_header(app, make_source):
    source = make_source()
    read(source, "ad_performance")
    download = app.requests_to("/reports/")[0]
    url = f"http://{download.headers['Host']}{download.path}?" + "&".join(f"{k}={v}" for k, v in download.args.items())
    data = requests.get(url, timeout=10).content
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        (name,) = z.namelist()
        raw = z.read(name)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith('"Report Name: ') and lines[8].startswith('"Rows: ')
    assert lines[9] == "" and lines[10].startswith('"TimePeriod","AccountId"')
    assert lines[-2] == '"@2026 Microsoft Corporation. All rights reserved. "'
    rows = parse_report(data)
    assert rows and list(rows[0]) == list(REPORT_COLUMNS)
    assert all(not r["TimePeriod"].startswith("@") for r in rows), "footer is not a row"

    def rezip(text: str) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr(name, "\ufeff" + text)
        return out.getvalue()

    # ExcludeReportHeader: no metadata lines, the header is still found
    assert parse_report(rezip("\r\n".join(lines[10:]))) == rows
    # a row lost in transit: "Rows: N" disagrees -> download again
    with pytest.raises(RetriableAPIError, match="Rows"):
        parse_report(rezip("\r\n".join(lines[:11] + lines[12:])))
    with pytest.raises(RetriableAPIError, match="corrupt"):
        parse_report(data[: len(data) // 2])


def test_incremental_resume_restates_provisional_days(app, world, make_source):
    lookback = PROVISIONAL_DAYS + 3
    early = world.now - timedelta(days=8)
    app.as_of = early
    first, _, state = read(make_source(REVOPS_MICROSOFT_ADS_LOOKBACK_DAYS=str(lookback)), "ad_performance")
    saved = date.fromisoformat(state["accounts"][ACCOUNT])
    assert_rows_equal_world(by_key(first), world_rows(world, early))

    app.as_of = world.now
    app.log.clear()
    second, _, state2 = read(make_source(REVOPS_MICROSOFT_ADS_LOOKBACK_DAYS=str(lookback)), "ad_performance", state)
    assert report_range(submits(app)[0])[0] == saved - timedelta(days=lookback), "re-pull only the lookback"
    assert state2 == {"accounts": {ACCOUNT: world.end.isoformat()}}
    assert min(r["TimePeriod"] for r in second) == (saved - timedelta(days=lookback)).isoformat()

    merged = {**by_key(first), **by_key(second)}  # the loader's merge: last wins
    final = world_rows(world, world.now)
    assert_rows_equal_world(merged, final)
    restated = [k for k, r in by_key(first).items() if Decimal(r["Spend"]) != final[k].spend]
    assert restated, "the first run saw provisional days"


# --- the async report's own faults ---------------------------------------------------------------
def test_pending_report_is_polled_until_ready(app, world, make_source):
    source = make_source()
    app.faults.add("report_pending", times=3, path="/GenerateReport/Poll")
    rows, _, _ = read(source, "ad_performance")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.report_stats["polls"] == source.report_stats["submitted"] + 3


def test_report_pending_past_the_timeout_stops_clearly(app, make_source):
    source = make_source(REVOPS_MICROSOFT_ADS_POLL_TIMEOUT_SECONDS="0.1")
    app.faults.add("report_pending", times=10_000, path="/GenerateReport/Poll")
    with pytest.raises(ReportTimeoutError, match="REVOPS_MICROSOFT_ADS_POLL_TIMEOUT_SECONDS"):
        read(source, "ad_performance")
    assert 2 <= source.report_stats["polls"] <= 20


def test_report_error_is_resubmitted_once(app, world, make_source):
    source = make_source()
    app.faults.add("report_error", path="/GenerateReport/Poll")
    rows, _, _ = read(source, "ad_performance")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.report_stats["resubmitted"] == 1
    assert report_range(submits(app)[0]) == report_range(submits(app)[1]), "the same window again"


def test_report_error_twice_is_fatal(app, make_source):
    source = make_source()
    app.faults.add("report_error", times=2, path="/GenerateReport/Poll")
    with pytest.raises(ReportFailedError):
        read(source, "ad_performance")
    assert len(submits(app)) == 2


def test_empty_report_means_no_rows_not_an_error(app, world, make_source):
    source = make_source()
    app.faults.add("empty_report", path="/GenerateReport/Poll")  # the first window: no data
    rows, batches, state = read(source, "ad_performance")
    first_window = batches[0]
    assert len(first_window) == 0 and source.report_stats["empty"] == 1
    assert len(app.requests_to("/reports/")) == len(submits(app)) - 1, "nothing to download"
    # the window had no rows, so the cursor only comes from the later windows' data
    want = {k: v for k, v in world_rows(world, app.as_of).items() if k[1] > first_window.meta["until"]}
    assert_rows_equal_world(by_key(rows), want)


def test_concurrent_report_limit_is_retried(app, world, make_source):
    source = make_source()
    app.faults.add("concurrent_limit", times=2, path="/GenerateReport/Submit")
    rows, _, _ = read(source, "ad_performance")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.client.stats["retries"] == 2


def test_expired_download_url_resubmits_the_report(app, world, make_source):
    source = make_source()
    app.faults.add("expired_url", path="/reports/")
    rows, _, _ = read(source, "ad_performance")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.report_stats["resubmitted"] == 1


@pytest.mark.parametrize("fault", ["truncated", "server_error", "rate_limit"])
def test_download_failures_are_retried(app, world, make_source, fault):
    source = make_source()
    app.faults.add(fault, path="/reports/")
    rows, _, _ = read(source, "ad_performance")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.client.stats["retries"] == 1 and source.report_stats["resubmitted"] == 0


def test_call_rate_exceeded_waits_and_retries(app, make_source):
    source = make_source()
    app.faults.add("rate_limit", path="/Campaigns/QueryByAccountId")
    rows, _, _ = read(source, "campaigns")
    assert {(c["Id"],) for c in rows} == app.expected_keys("campaigns")
    assert source.client.stats["retries"] == 1


def test_summary_with_time_period_is_refused_by_microsoft(app, make_source):
    """The sandbox enforces Microsoft's rule (2034), which is why the connector sends Daily."""
    source = make_source()
    url = f"{source.reporting_url}/GenerateReport/Submit"
    body = {"ReportRequest": {"Type": "AdPerformanceReportRequest", "Columns": ["TimePeriod", "AdId"],
                              "Scope": {"AccountIds": [int(ACCOUNT)]}}}
    with pytest.raises(FatalAPIError, match="2034"):
        source.client.post_api(url, body, ACCOUNT)


# --- auth ---------------------------------------------------------------------------------------------
def test_expired_access_token_is_refreshed_with_the_rotated_refresh_token(app, world, make_source, caplog):
    caplog.set_level(logging.DEBUG)
    source = make_source()
    app.faults.add("expired_token", path="/GenerateReport/Poll")
    rows, _, _ = read(source, "ad_performance")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.client.stats["auth_refreshes"] == 1
    first, second = app.token_forms
    assert first["refresh_token"] == TOKEN
    assert second["refresh_token"] != TOKEN, "the rotated refresh token is used next"
    secrets_seen = {TOKEN, DEVELOPER_TOKEN} | {r.headers["Authorization"][7:] for r in app.requests_to("/Reporting/")}
    assert not any(s in rec.getMessage() for rec in caplog.records for s in secrets_seen)


def test_dead_refresh_token_is_fatal_and_names_the_variable(app, make_source):
    source = make_source(**{SECRET_ENV: "M.C5-revoked"})
    with pytest.raises(FatalAPIError) as err:
        read(source, "accounts")
    assert "invalid_grant" in str(err.value) and SECRET_ENV in str(err.value)
    assert "M.C5-revoked" not in str(err.value)
    assert source.client.stats["retries"] == 0


def test_wrong_developer_token_is_fatal_and_says_which(app, make_source):
    source = make_source(REVOPS_MICROSOFT_ADS_DEVELOPER_TOKEN="not-the-developer-token")
    with pytest.raises(FatalAPIError) as err:
        read(source, "accounts")
    assert "105" in str(err.value) and "REVOPS_MICROSOFT_ADS_DEVELOPER_TOKEN" in str(err.value)
    assert "not-the-developer-token" not in str(err.value)
    assert source.client.stats["retries"] == 0


def test_customer_without_access_is_fatal(app, make_source):
    source = make_source(REVOPS_MICROSOFT_ADS_CUSTOMER_ID="999")
    with pytest.raises(FatalAPIError, match="106.*REVOPS_MICROSOFT_ADS_CUSTOMER_ID"):
        read(source, "campaigns")


def test_utm_campaign_comes_from_the_ads_final_url_suffix():
    """FinalUrlSuffix (else TrackingTemplate's query) as the report shows it, URL parameters
    unexpanded; {CampaignId} is the row's campaign
    (https://learn.microsoft.com/en-us/advertising/reporting-service/adperformancereportcolumn)."""
    from revops.sources.microsoft_ads.streams import utm_campaign_of

    row = {"CampaignId": "410000001", "FinalUrlSuffix": None, "TrackingTemplate": None}
    assert utm_campaign_of({**row, "FinalUrlSuffix": "utm_source=bing&utm_campaign=Bing%20-%20Brand"}) == "Bing - Brand"
    assert utm_campaign_of({**row, "FinalUrlSuffix": "utm_campaign={CampaignId}"}) == "410000001"
    assert utm_campaign_of({**row, "FinalUrlSuffix": "utm_campaign={campaignid}"}) == "410000001"
    assert utm_campaign_of({**row, "FinalUrlSuffix": "utm_campaign={Campaign}"}) is None
    assert utm_campaign_of({**row, "TrackingTemplate": "{lpurl}?utm_campaign=Spring+Promo"}) == "Spring Promo"
    assert utm_campaign_of(row) is None
