"""Google Ads connector against the Google Ads sandbox over real HTTP (127.0.0.1).

The sandbox shows a small synthetic world at a clock in Google's REST wire format; the connector
must end up with exactly the world's rows at that clock, across OAuth refreshes, quota errors,
errors inside the stream, chunked answers, omitted zero fields and restated provisional days.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.google_ads import MANAGER_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, GoogleAdsSandbox
from revops.sandbox.world import PROVISIONAL_DAYS, AdDay, World, WorldConfig
from revops.settings import Settings
from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.google_ads import SPEC
from revops.sources.google_ads.client import GoogleAdsClient
from revops.sources.google_ads.streams import GoogleAdsSource, flatten

SANDBOX = get_sandbox("google_ads")

TOKEN = secrets.token_urlsafe(24)  # the refresh token
US, UK = "4815162342", "2718281828"
Key = tuple[str, str, str]


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(days=16))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token=TOKEN)) as srv:
        yield srv


@pytest.fixture
def app(server: SandboxServer, world: World) -> Iterator[GoogleAdsSandbox]:
    sandbox = server.app
    assert isinstance(sandbox, GoogleAdsSandbox)
    sandbox.world = world  # a test may swap in another world
    sandbox.as_of = world.now
    sandbox.chunk_rows = 10_000
    sandbox.faults.clear()
    sandbox.log.clear()
    yield sandbox
    sandbox.faults.clear()


@pytest.fixture
def make_source(server: SandboxServer, world: World, app: GoogleAdsSandbox, monkeypatch) -> Callable[..., GoogleAdsSource]:
    """A connector built from REVOPS_* variables, as a deployment builds it.

    ``pinned=True`` makes the connector's "today" the sandbox clock (fewer empty windows);
    otherwise it uses the wall clock, as in production."""

    def build(pinned: bool = True, token: str = TOKEN, **env: str) -> GoogleAdsSource:
        variables = {
            **SANDBOX.env(server.url, token, world),
            "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.02",
            **env,
        }
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        if not pinned:
            source = SPEC.build(settings)
            assert isinstance(source, GoogleAdsSource)
            return source
        return GoogleAdsSource(settings, clock=lambda: app.as_of)

    return build


def read(source: GoogleAdsSource, stream_name: str, state: dict | None = None):
    stream = next(s for s in source.streams if s.name == stream_name)
    batches = list(source.read(stream, state))
    rows = [r for b in batches for r in b.records.to_pylist()]
    states = [b.state for b in batches if b.state is not None]
    return rows, batches, (states[-1] if states else state)


def by_key(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    return {(r["ad_group_id"], r["ad_group_ad_ad_id"], r["segments_date"]): r for r in rows}


def world_rows(world: World, as_of: datetime) -> dict[Key, AdDay]:
    return {(r.ad.ad_group_id, r.ad.ad_id, r.day.isoformat()): r for r in world.ad_days_as_of(as_of, "google_ads")}


def spend(row: dict[str, Any]) -> Decimal:
    """What staging computes: micros / 10^6, a missing field being 0."""
    return Decimal(row["metrics_cost_micros"] or 0) / 1_000_000


def count(value: str | None) -> int:
    return int(value or 0)


def assert_rows_equal_world(rows: dict[Key, dict[str, Any]], want: dict[Key, AdDay], world: World, as_of: datetime) -> None:
    assert set(rows) == set(want)
    currency = {US: "USD", UK: "GBP"}
    for key, truth in want.items():
        got = rows[key]
        assert spend(got) == truth.spend, key
        assert count(got["metrics_impressions"]) == truth.impressions, key
        assert count(got["metrics_clicks"]) == truth.clicks, key
        assert Decimal(got["metrics_conversions"] or 0) == truth.platform_leads, key
        assert got["customer_id"] == truth.ad.account_id
        assert got["campaign_id"] == truth.ad.campaign_id
        assert got["customer_currency_code"] == currency[truth.ad.account_id]
        assert got["campaign_name"] == world.campaign_by_id[truth.ad.campaign_id].name_as_of(as_of)
        assert got["ad_group_name"] == truth.ad.ad_group_name and got["ad_group_ad_ad_name"] == truth.ad.ad_name


def windows(app: GoogleAdsSandbox, customer: str) -> list[tuple[date, date]]:
    out = []
    for r in app.requests_to(f"/customers/{customer}/googleAds:searchStream"):
        query = r.body["query"]
        if "FROM ad_group_ad" in query:
            since, until = query.split("BETWEEN '")[1].split("' AND '")
            out.append((date.fromisoformat(since), date.fromisoformat(until.rstrip("'"))))
    return out


def stream_requests(app: GoogleAdsSandbox):
    return app.requests_to("googleAds:searchStream")


# --- registry and settings ------------------------------------------------------------------------
def test_spec_points_settings_at_the_sandbox(server, world, make_source, monkeypatch):
    s = make_source().settings
    assert s.google_ads_base_url == server.url
    assert s.google_ads_token_url == f"{server.url}/token"
    assert s.google_ads_customer_ids == [US, UK]
    assert s.google_ads_api_version == "v26", "the default must be a live version (v22 sunset 2026-10-07)"
    assert SPEC.configured(s) and SPEC.refreshes_auth and SANDBOX.small_pages_env is None
    assert SPEC.secret_env == "REVOPS_GOOGLE_ADS_REFRESH_TOKEN"
    source = make_source()
    assert [st.name for st in source.streams] == ["customers", "campaigns", "ad_url_tags", "ad_group_ad_daily"]
    assert next(st for st in source.streams if st.name == "ad_group_ad_daily").lookback == 14
    monkeypatch.delenv("REVOPS_GOOGLE_ADS_REFRESH_TOKEN")
    assert not SPEC.configured(Settings(_env_file=None))


# --- reading --------------------------------------------------------------------------------------
def test_full_read_matches_the_world_at_the_clock(app, world, make_source):
    source = make_source(pinned=False)  # the wall clock, as in production
    before = datetime.now(UTC)
    rows, _, state = read(source, "ad_group_ad_daily")
    after = datetime.now(UTC)
    assert len(rows) == len(by_key(rows)), "duplicate keys"
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of), world, app.as_of)
    assert state == {"customers": {US: world.end.isoformat(), UK: world.end.isoformat()}}
    for customer, tz in ((US, "America/New_York"), (UK, "Europe/London")):
        ranges = windows(app, customer)
        assert ranges[0][0] == world.start
        assert all(u - s <= timedelta(days=13) for s, u in ranges), "windows of at most 14 days"
        assert all(b[0] == a[1] + timedelta(days=1) for a, b in zip(ranges, ranges[1:])), "ascending, no gap"
        assert ranges[-1][1] in {before.astimezone(ZoneInfo(tz)).date(), after.astimezone(ZoneInfo(tz)).date()}
    # every request carried a Bearer access token minted from the refresh token, never the latter
    assert all(r.headers["Authorization"].startswith("Bearer ya29.") for r in stream_requests(app))
    assert not any(TOKEN in json.dumps(r.body) + json.dumps(r.headers) for r in stream_requests(app))
    assert source.client.mints == 1, "one access token serves the whole run"


def test_money_ids_and_omitted_zero_fields_are_parsed(app, world, make_source):
    rows, batches, _ = read(make_source(), "ad_group_ad_daily")
    got = by_key(rows)
    assert all(v is None or isinstance(v, str) for r in rows for v in r.values()), "strings stay strings"
    assert all(c.type == "string" for c in batches[0].records.schema)
    sample = next(iter(got.values()))
    assert sample["metrics_cost_micros"].isdigit() and int(sample["metrics_cost_micros"]) % 10_000 == 0
    assert sample["customer_id"] in (US, UK) and len(sample["customer_id"]) == 10
    # Google omits zero values: no lead -> no conversions field -> null, which means 0
    truth = world_rows(world, app.as_of)
    zero = [k for k, t in truth.items() if t.platform_leads == 0]
    assert zero and all(got[k]["metrics_conversions"] is None for k in zero)
    assert all(r["metrics_conversions_value"] is None for r in rows)
    some = next(k for k, t in truth.items() if t.platform_leads)
    assert got[some]["metrics_conversions"] == f"{float(truth[some].platform_leads)}"  # a JSON double


def test_flatten_reads_nested_camel_case_and_omissions():
    row = {"adGroupAd": {"ad": {"id": "42", "resourceName": "customers/1/ads/42"}},
           "metrics": {"costMicros": "12500000", "conversions": 1.5}, "segments": {"date": "2026-06-01"}}
    fields = ("ad_group_ad.ad.id", "ad_group_ad.ad.name", "metrics.cost_micros", "metrics.clicks",
              "metrics.conversions", "segments.date")
    assert flatten(row, fields) == {
        "ad_group_ad_ad_id": "42", "ad_group_ad_ad_name": None, "metrics_cost_micros": "12500000",
        "metrics_clicks": None, "metrics_conversions": "1.5", "segments_date": "2026-06-01",
    }


def test_customers_and_campaigns(app, world, make_source):
    source = make_source()
    customers, _, state = read(source, "customers")
    assert state is None  # full refresh
    by_id = {c["customer_id"]: c for c in customers}
    assert by_id[US]["customer_currency_code"] == "USD" and by_id[US]["customer_time_zone"] == "America/New_York"
    assert by_id[UK]["customer_currency_code"] == "GBP" and by_id[UK]["customer_time_zone"] == "Europe/London"
    campaigns, _, _ = read(source, "campaigns")
    assert {(c["campaign_id"],) for c in campaigns} == app.expected_keys("campaigns")
    assert {c["campaign_advertising_channel_type"] for c in campaigns} == {"SEARCH"}
    assert {c["campaign_status"] for c in campaigns} == {"ENABLED"}
    queries = [r.body["query"] for r in stream_requests(app) if "FROM campaign" in r.body["query"]]
    assert queries and all("WHERE" not in q for q in queries), "REMOVED campaigns are not filtered out"


def test_rename_shows_the_current_name_on_every_row(app, world, make_source):
    renamed = next(c for c in world.campaigns if c.platform == "google_ads" and c.renames)
    at = renamed.renames[0][0]
    app.as_of = at - timedelta(hours=1)
    before, _, _ = read(make_source(), "ad_group_ad_daily")
    app.as_of = at + timedelta(hours=1)
    after, _, _ = read(make_source(), "ad_group_ad_daily")
    mine = lambda rows: [r for r in rows if r["campaign_id"] == renamed.campaign_id]  # noqa: E731
    assert {r["campaign_name"] for r in mine(before)} == {renamed.name}
    assert {r["campaign_name"] for r in mine(after)} == {renamed.current_name}, "old days carry the new name"
    assert len({r["segments_date"] for r in mine(after)}) > 3


def test_days_are_in_each_customers_time_zone(app, world, make_source):
    """At 03:00 UTC it is still yesterday in New York but already today in London."""
    day = world.start + timedelta(days=9)
    app.as_of = datetime.combine(day, time(3), UTC)
    rows, _, state = read(make_source(), "ad_group_ad_daily")
    assert set(by_key(rows)) == app.expected_keys("ad_group_ad_daily")
    assert state == {"customers": {US: (day - timedelta(days=1)).isoformat(), UK: day.isoformat()}}
    assert windows(app, US)[-1][1] == day - timedelta(days=1)
    assert windows(app, UK)[-1][1] == day
    assert {r["segments_date"] for r in rows if r["customer_id"] == UK} >= {day.isoformat()}
    assert day.isoformat() not in {r["segments_date"] for r in rows if r["customer_id"] == US}


def test_incremental_resume_restates_provisional_days(app, make_source):
    # no rename here: rows outside the lookback keep the name they were read with, by design
    world = app.world = World(WorldConfig(days=16, rename_campaigns=False))
    lookback = PROVISIONAL_DAYS + 2
    early = world.now - timedelta(days=6)
    app.as_of = early
    first, _, state = read(make_source(REVOPS_GOOGLE_ADS_LOOKBACK_DAYS=str(lookback)), "ad_group_ad_daily")
    saved = {c: date.fromisoformat(d) for c, d in state["customers"].items()}
    assert_rows_equal_world(by_key(first), world_rows(world, early), world, early)

    app.as_of = world.now
    app.log.clear()
    second, _, state2 = read(make_source(REVOPS_GOOGLE_ADS_LOOKBACK_DAYS=str(lookback)), "ad_group_ad_daily", state)
    for customer, last in saved.items():
        assert windows(app, customer)[0][0] == last - timedelta(days=lookback), "re-pull only the lookback"
    assert state2 == {"customers": {US: world.end.isoformat(), UK: world.end.isoformat()}}
    assert len(second) < len(first), "a resume reads less than a full history"

    merged = {**by_key(first), **by_key(second)}  # the loader's merge: last wins
    final = world_rows(world, world.now)
    assert_rows_equal_world({k: merged[k] for k in final}, final, world, world.now)
    restated = [k for k, r in by_key(first).items() if spend(r) != final[k].spend]
    assert restated, "the first run saw provisional days"
    assert all(spend(merged[k]) == final[k].spend for k in restated)


def test_answers_in_several_chunks_are_all_read(app, world, make_source):
    app.chunk_rows = 7
    rows, _, _ = read(make_source(), "ad_group_ad_daily")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of), world, app.as_of)


def test_empty_answer_has_no_results_key(app, server, make_source):
    source = make_source()
    future = "SELECT ad_group_ad.ad.id, segments.date, metrics.clicks FROM ad_group_ad " \
             "WHERE segments.date BETWEEN '2030-01-01' AND '2030-01-02'"
    body = source.client.post_json(f"v26/customers/{US}/googleAds:searchStream", json={"query": future})
    assert len(body) == 1 and "results" not in body[0] and body[0]["fieldMask"] == "adGroupAd.ad.id,segments.date,metrics.clicks"
    assert source.client.search_stream(US, future) == []


def test_nothing_to_read_when_start_date_is_in_the_future(app, make_source):
    source = make_source(pinned=False, REVOPS_START_DATE="2099-01-01")
    rows, batches, state = read(source, "ad_group_ad_daily", {"customers": {US: "2026-06-03"}})
    assert rows == [] and batches == []
    assert state == {"customers": {US: "2026-06-03"}}
    assert not [r for r in stream_requests(app) if "FROM ad_group_ad" in r.body["query"]]


# --- auth -----------------------------------------------------------------------------------------
def test_expired_access_token_is_refreshed_once(app, world, make_source):
    app.faults.add("expired_token", times=1, path="googleAds:searchStream", after=2)
    source = make_source()
    rows, _, _ = read(source, "ad_group_ad_daily")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of), world, app.as_of)
    assert source.client.stats["auth_refreshes"] == 1 and source.client.mints == 2
    tokens = [r.headers["Authorization"] for r in stream_requests(app)]
    assert tokens[2] == tokens[1] != tokens[3] == tokens[-1], "the failed request is resent with a new token"
    grants = app.requests_to("/token")
    assert len(grants) == 2 and all(g.body["grant_type"] == "refresh_token" for g in grants)
    assert all(g.body["client_id"] == SANDBOX_CLIENT_ID for g in grants)


def test_expired_refresh_token_is_fatal_and_names_the_variable(app, make_source, caplog):
    wrong = secrets.token_urlsafe(24)
    source = make_source(token=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(FatalAPIError) as excinfo:
        read(source, "customers")
    message = str(excinfo.value)
    assert "invalid_grant" in message and "REVOPS_GOOGLE_ADS_REFRESH_TOKEN" in message
    assert wrong not in message and TOKEN not in message and wrong not in caplog.text
    assert source.client.stats["retries"] == 0 and not stream_requests(app)


def test_wrong_client_secret_is_fatal(app, make_source):
    with pytest.raises(FatalAPIError, match="invalid_client.*REVOPS_GOOGLE_ADS_CLIENT_SECRET") as excinfo:
        read(make_source(REVOPS_GOOGLE_ADS_CLIENT_SECRET="nope-" + SANDBOX_CLIENT_SECRET), "customers")
    assert SANDBOX_CLIENT_SECRET not in str(excinfo.value)


def test_optional_headers(app, make_source):
    read(make_source(), "customers")
    assert all("Developer-Token" not in r.headers and "Login-Customer-Id" not in r.headers for r in stream_requests(app))
    app.log.clear()
    read(make_source(REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN="dev-tok", REVOPS_GOOGLE_ADS_LOGIN_CUSTOMER_ID="987-654-3210"),
         "customers")
    assert all(r.headers["Developer-Token"] == "dev-tok" for r in stream_requests(app))
    assert all(r.headers["Login-Customer-Id"] == MANAGER_ID for r in stream_requests(app)), "dashes stripped"


def test_wrong_login_customer_id_is_fatal_with_what_to_fix(app, make_source):
    source = make_source(REVOPS_GOOGLE_ADS_LOGIN_CUSTOMER_ID="1111111111")
    with pytest.raises(FatalAPIError, match="USER_PERMISSION_DENIED.*REVOPS_GOOGLE_ADS_LOGIN_CUSTOMER_ID"):
        read(source, "customers")
    assert source.client.stats["retries"] == 0


# --- faults ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "unavailable", "stream_error", "truncated"])
def test_transient_failures_are_retried(app, world, make_source, fault):
    app.faults.add(fault, times=2, path="googleAds:searchStream", after=3)
    source = make_source()
    rows, _, _ = read(source, "ad_group_ad_daily")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of), world, app.as_of)
    assert source.client.stats["retries"] == 2
    queries = [r.body["query"] for r in stream_requests(app)]
    assert queries[3] == queries[4] == queries[5], "the same query is resent"


def test_stream_error_element_is_detected_after_a_200(app, server, make_source):
    app.faults.add("stream_error", times=1)
    client = make_source().client
    headers = client.auth_headers()
    query = "SELECT customer.id FROM customer"
    raw = requests.post(f"{server.url}/v26/customers/{US}/googleAds:searchStream", json={"query": query},
                        headers=headers, timeout=5)
    assert raw.status_code == 200 and "error" in raw.json()[-1] and "results" in raw.json()[0]
    with pytest.raises(RetriableAPIError, match="TRANSIENT_ERROR"):
        client.classify(raw)


def test_quota_retry_delay_is_the_wait(app, server, make_source):
    client = make_source(REVOPS_HTTP_MAX_BACKOFF_SECONDS="600").client
    app.faults.add("rate_limit")
    raw = requests.post(f"{server.url}/v26/customers/{US}/googleAds:searchStream",
                        json={"query": "SELECT customer.id FROM customer"}, headers=client.auth_headers(), timeout=5)
    assert raw.status_code == 429
    with pytest.raises(RetriableAPIError) as excinfo:
        client.classify(raw)
    assert excinfo.value.retry_after == 60.0, "quotaErrorDetails.retryDelay '60s'"


def test_daily_quota_is_fatal_not_retried_for_hours(app, make_source):
    app.faults.add("daily_quota", times=1)
    source = make_source()
    with pytest.raises(FatalAPIError, match="daily operations quota"):
        read(source, "customers")
    assert source.client.stats["retries"] == 0


def test_customer_not_enabled_is_fatal_with_what_to_fix(app, make_source):
    app.faults.add("customer_not_enabled", times=1)
    with pytest.raises(FatalAPIError, match="CUSTOMER_NOT_ENABLED.*REVOPS_GOOGLE_ADS_CUSTOMER_IDS"):
        read(make_source(), "customers")


@pytest.mark.parametrize(("version", "match"), [("v22", "UNSUPPORTED_VERSION"), ("v27", "HTTP 404")])
def test_sunset_or_unknown_version_is_fatal_naming_the_setting(app, make_source, version, match):
    source = make_source(REVOPS_GOOGLE_ADS_API_VERSION=version)
    with pytest.raises(FatalAPIError, match=f"{match}.*REVOPS_GOOGLE_ADS_API_VERSION"):
        read(source, "customers")
    assert source.client.stats["retries"] == 0


def test_bad_customer_id_setting_is_fatal_before_any_request(app, make_source):
    with pytest.raises(FatalAPIError, match="10 digits"):
        read(make_source(REVOPS_GOOGLE_ADS_CUSTOMER_IDS='["123"]'), "customers")
    assert not app.log


# --- the sandbox speaks Google Ads ----------------------------------------------------------------
def test_sandbox_parses_gaql_and_answers_like_google(app, server, make_source):
    client = make_source().client
    url = f"{server.url}/v26/customers/{US}/googleAds:searchStream"
    headers = client.auth_headers()

    def post(query: str) -> requests.Response:
        return requests.post(url, json={"query": query}, headers=headers, timeout=5)

    def error_code(r: requests.Response) -> dict:
        return r.json()[0]["error"]["details"][0]["errors"][0]["errorCode"]

    r = post("SELECT ad_group_ad.ad.id, metrics.nope FROM ad_group_ad")
    assert r.status_code == 400 and error_code(r) == {"queryError": "UNRECOGNIZED_FIELD"}
    r = post("SELECT ad_group_ad.ad.id, segments.date FROM ad_group_ad WHERE segments.date >= '2026-06-01'")
    assert r.status_code == 400 and error_code(r) == {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"}
    r = post("SELECT ad_group.id FROM campaign")
    assert error_code(r) == {"queryError": "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"}
    r = post("SELECT campaign.id, segments.date, metrics.cost_micros FROM campaign "
             "WHERE segments.date >= '2026-06-02' AND segments.date <= '2026-06-02' AND campaign.status = 'ENABLED'")
    chunk = r.json()[0]
    assert r.status_code == 200 and chunk["fieldMask"] == "campaign.id,segments.date,metrics.costMicros"
    assert {row["segments"]["date"] for row in chunk["results"]} == {"2026-06-02"}
    assert all(set(row) == {"campaign", "segments", "metrics"} for row in chunk["results"])
    assert all(row["campaign"]["resourceName"].startswith(f"customers/{US}/campaigns/") for row in chunk["results"])
    r = requests.post(url, json={"query": "SELECT customer.id FROM customer"},
                      headers={"Authorization": "Bearer ya29.forged"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = requests.post(url, json={"query": "SELECT customer.id FROM customer"},
                      headers={**headers, "developer-token": "anything"}, timeout=5)
    assert r.status_code == 200, "developer-token accepted present or absent"
    listed = requests.get(f"{server.url}/v26/customers:listAccessibleCustomers", headers=headers, timeout=5).json()
    assert listed == {"resourceNames": [f"customers/{US}", f"customers/{UK}"]}
    bad = requests.post(f"{server.url}/token", data={"grant_type": "refresh_token", "client_id": SANDBOX_CLIENT_ID,
                        "client_secret": SANDBOX_CLIENT_SECRET, "refresh_token": "x"}, timeout=5)
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid_grant",
                                                   "error_description": "Token has been expired or revoked."})


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, RetriableAPIError),
        (500, [{"error": {"code": 500, "status": "INTERNAL"}}], RetriableAPIError),
        (503, {"error": {"code": 503, "status": "UNAVAILABLE"}}, RetriableAPIError),
        (502, "<html>bad gateway</html>", RetriableAPIError),
        (400, [{"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
            "errors": [{"errorCode": {"queryError": "UNRECOGNIZED_FIELD"}, "message": "m"}]}]}}], FatalAPIError),
        (403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
            "errors": [{"errorCode": {"authorizationError": "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION"}}]}]}},
         FatalAPIError),
    ],
)
def test_errors_are_classified(status, body, expected):
    client = GoogleAdsClient("http://127.0.0.1:9", api_version="v26", token_url="http://127.0.0.1:9/token",
                             client_id="c", client_secret="s", refresh_token=TOKEN)
    response = requests.Response()
    response.status_code = status
    response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    with pytest.raises(expected):
        client.classify(response)


def test_utm_campaign_comes_from_the_most_specific_url_option():
    """An ad's final URL suffix replaces its campaign's; a tracking template carries the
    parameters in its query; ValueTrack {campaignid} is the ad's campaign
    (https://developers.google.com/google-ads/api/docs/ads/upgraded-urls/reports)."""
    from revops.sources.google_ads.streams import utm_campaign_of

    base = {"campaign_id": "17000000001", "ad_group_ad_ad_final_url_suffix": None,
            "ad_group_ad_ad_tracking_url_template": None, "campaign_final_url_suffix": None,
            "campaign_tracking_url_template": None}
    ad = {**base, "ad_group_ad_ad_final_url_suffix": "utm_source=google&utm_campaign=Search+-+Brand+-+US",
          "campaign_final_url_suffix": "utm_campaign=other"}
    assert utm_campaign_of(ad) == "Search - Brand - US"
    assert utm_campaign_of({**base, "campaign_final_url_suffix": "utm_campaign=Brand%20US"}) == "Brand US"
    template = {**base, "ad_group_ad_ad_tracking_url_template": "{lpurl}?utm_campaign={campaignid}&kw={keyword}"}
    assert utm_campaign_of(template) == "17000000001"
    assert utm_campaign_of({**base, "ad_group_ad_ad_final_url_suffix": "utm_term={keyword}"}) is None
    assert utm_campaign_of({**base, "ad_group_ad_ad_final_url_suffix": "utm_campaign={keyword}"}) is None
    # the ad's own suffix replaces the campaign's (not merged): the campaign's value is not used
    assert utm_campaign_of({**ad, "ad_group_ad_ad_final_url_suffix": "utm_term={keyword}"}) is None
    assert utm_campaign_of(base) is None
