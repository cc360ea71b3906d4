"""Meta connector against the Meta sandbox over real HTTP (127.0.0.1).

The sandbox shows a small synthetic world at a clock; the connector must end up with exactly the
world's rows at that clock, across paging, throttling, server errors, truncated bodies and
restated provisional days.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.meta import MetaSandbox
from revops.sandbox.world import PROVISIONAL_DAYS, AdDay, World, WorldConfig
from revops.settings import Settings
from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.meta import SPEC
from revops.sources.meta.client import MetaClient, parse_usage
from revops.sources.meta.streams import MetaSource

SANDBOX = get_sandbox("meta")

TOKEN = secrets.token_urlsafe(24)
Key = tuple[str, str]


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(days=20, campaigns_per_account=2))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token=TOKEN)) as srv:
        yield srv


@pytest.fixture
def app(server: SandboxServer, world: World) -> Iterator[MetaSandbox]:
    sandbox = server.app
    assert isinstance(sandbox, MetaSandbox)
    sandbox.as_of = world.now
    sandbox.faults.clear()
    sandbox.log.clear()
    yield sandbox
    sandbox.faults.clear()


@pytest.fixture
def make_source(server: SandboxServer, world: World, app: MetaSandbox, monkeypatch) -> Callable[..., MetaSource]:
    """A connector built from REVOPS_* variables, as a deployment builds it.

    ``pinned=True`` makes the connector's "today" the sandbox clock (fewer empty windows);
    otherwise it uses the wall clock, as in production."""

    def build(pinned: bool = True, token: str = TOKEN, **env: str) -> MetaSource:
        variables = {
            **SANDBOX.env(server.url, token, world),
            "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.05",
            **env,
        }
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        if not pinned:
            source = SPEC.build(settings)
            assert isinstance(source, MetaSource)
            return source
        return MetaSource(settings, clock=lambda: app.as_of)

    return build


def read(source: MetaSource, stream_name: str, state: dict | None = None):
    """All records of a stream, the batches, and the last state a batch carried."""
    stream = next(s for s in source.streams if s.name == stream_name)
    batches = list(source.read(stream, state))
    rows = [r for b in batches for r in b.records.to_pylist()]
    states = [b.state for b in batches if b.state is not None]
    return rows, batches, (states[-1] if states else state)


def world_rows(world: World, as_of: datetime) -> dict[Key, AdDay]:
    return {(r.ad.ad_id, r.day.isoformat()): r for r in world.ad_days_as_of(as_of, "meta")}


def by_key(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    return {(r["ad_id"], r["date_start"]): r for r in rows}


def leads(actions: str | None) -> int:
    """Platform leads the way staging reads them: the ``lead`` entry only, never summed with
    its overlapping ``onsite_conversion.lead_grouped`` twin."""
    return sum(int(a["value"]) for a in json.loads(actions or "[]") if a["action_type"] == "lead")


def assert_rows_equal_world(rows: dict[Key, dict[str, Any]], want: dict[Key, AdDay]) -> None:
    assert set(rows) == set(want)
    currency = {"1001": "USD", "1002": "EUR"}
    for key, truth in want.items():
        got = rows[key]
        assert Decimal(got["spend"]) == truth.spend, key
        assert int(got["impressions"]) == truth.impressions, key
        assert int(got["clicks"]) == truth.clicks, key
        assert leads(got["actions"]) == truth.platform_leads, key
        assert got["account_id"] == truth.ad.account_id
        assert got["campaign_id"] == truth.ad.campaign_id
        assert got["adset_id"] == truth.ad.ad_group_id
        assert got["account_currency"] == currency[truth.ad.account_id]
        assert got["date_stop"] == got["date_start"]


def insight_ranges(app: MetaSandbox, account: str) -> list[tuple[date, date]]:
    out = []
    for r in app.requests_to(f"/act_{account}/insights"):
        if "after" in r.args:
            continue  # a following page repeats its window's range
        tr = json.loads(r.args["time_range"])
        out.append((date.fromisoformat(tr["since"]), date.fromisoformat(tr["until"])))
    return out


# --- registry and settings ------------------------------------------------------------------------
def test_spec_points_settings_at_the_sandbox(server, world, make_source, monkeypatch):
    source = make_source()
    s = source.settings
    assert s.meta_base_url == server.url
    assert s.meta_account_ids == ["1001", "1002"]  # parsed from the JSON list
    assert s.start_date == world.start
    assert SPEC.configured(s)
    assert SPEC.secret_env == "REVOPS_META_ACCESS_TOKEN"
    assert SANDBOX.small_pages_env == {"REVOPS_META_PAGE_SIZE": "25"}
    monkeypatch.delenv("REVOPS_META_ACCESS_TOKEN")
    assert not SPEC.configured(Settings(_env_file=None))
    assert [st.name for st in source.streams] == ["ad_accounts", "campaigns", "ads", "ads_insights"]
    assert next(st for st in source.streams if st.name == "ads_insights").lookback == 28


# --- reading --------------------------------------------------------------------------------------
def test_full_read_matches_the_world_at_the_clock(app, world, make_source):
    source = make_source(pinned=False)  # the wall clock, as in production
    before = datetime.now(UTC)
    rows, batches, state = read(source, "ads_insights")
    after = datetime.now(UTC)

    assert len(rows) == len(by_key(rows)), "duplicate keys"
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert set(by_key(rows)) == app.expected_keys("ads_insights")
    assert state == {"accounts": {"1001": world.end.isoformat(), "1002": world.end.isoformat()}}
    # both accounts and currencies really came through
    assert {r["account_currency"] for r in rows} == {"USD", "EUR"}
    for account, tz in (("1001", "America/Los_Angeles"), ("1002", "Europe/Berlin")):
        ranges = insight_ranges(app, account)
        assert ranges[0][0] == world.start
        assert all(u - s <= timedelta(days=6) for s, u in ranges), "windows of at most 7 days"
        assert all(b[0] == a[1] + timedelta(days=1) for a, b in zip(ranges, ranges[1:])), "ascending, no gap"
        today = {before.astimezone(ZoneInfo(tz)).date(), after.astimezone(ZoneInfo(tz)).date()}
        assert ranges[-1][1] in today
    assert not any("access_token" in r.args for r in app.log), "token only in the header"


def test_accounts_and_campaigns(app, world, make_source):
    source = make_source()
    accounts, _, state = read(source, "ad_accounts")
    assert state is None  # full refresh
    assert {(a["account_id"],) for a in accounts} == app.expected_keys("ad_accounts")
    by_id = {a["account_id"]: a for a in accounts}
    assert by_id["1001"]["currency"] == "USD" and by_id["1002"]["currency"] == "EUR"
    assert by_id["1001"]["timezone_name"] == "America/Los_Angeles"
    assert by_id["1002"]["timezone_name"] == "Europe/Berlin"
    assert by_id["1001"]["account_status"] == "1"  # a JSON number, stored as a string
    campaigns, _, _ = read(source, "campaigns")
    assert {(c["id"],) for c in campaigns} == app.expected_keys("campaigns")
    names = {c.campaign_id: c.name_as_of(app.as_of) for c in world.campaigns}
    assert all(c["name"] == names[c["id"]] for c in campaigns)
    renamed = [c for c in world.campaigns if c.platform == "meta" and c.renames]
    assert renamed and all(names[c.campaign_id] != c.name for c in renamed), "the world renames a campaign"
    assert all(c["updated_time"].endswith("+0000") for c in campaigns)


def test_until_is_today_in_each_account_time_zone(app, world, make_source):
    """At 03:00 UTC it is still yesterday in Los Angeles but already today in Berlin."""
    app.as_of = datetime.combine(world.start + timedelta(days=11), datetime.min.time(), UTC) + timedelta(hours=3)
    rows, _, state = read(make_source(), "ads_insights")
    assert set(by_key(rows)) == app.expected_keys("ads_insights")
    berlin_day = (world.start + timedelta(days=11)).isoformat()
    la_day = (world.start + timedelta(days=10)).isoformat()
    assert state == {"accounts": {"1001": la_day, "1002": berlin_day}}
    assert insight_ranges(app, "1001")[-1][1].isoformat() == la_day
    assert insight_ranges(app, "1002")[-1][1].isoformat() == berlin_day


def test_small_pages_follow_paging_next(app, world, make_source):
    source = make_source(**SANDBOX.small_pages_env)
    rows, batches, _ = read(source, "ads_insights")
    follow_ups = [r for r in app.requests_to("/insights") if "after" in r.args]
    assert len(follow_ups) >= 6, "25-row pages need paging"
    assert all(r.args["limit"] == "25" for r in app.requests_to("/insights"))
    assert all(len(b) <= 25 for b in batches)
    assert len(rows) == len(by_key(rows)), "duplicate keys across pages"
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    # only the batch finishing a window carries state; it is never ahead of the loaded data
    for batch in batches:
        if batch.state is not None:
            acct = batch.meta["account_id"]
            assert batch.state["accounts"][acct] <= batch.meta["until"]
    assert sum(b.state is not None for b in batches) == len(insight_ranges(app, "1001")) + len(
        insight_ranges(app, "1002")
    )


def test_default_page_size_needs_no_paging(app, make_source):
    rows, _, _ = read(make_source(), "ads_insights")
    assert rows
    assert not [r for r in app.requests_to("/insights") if "after" in r.args]
    assert {r.args["limit"] for r in app.requests_to("/insights")} == {"500"}


def test_incremental_resume_restates_provisional_days(app, world, make_source):
    lookback = PROVISIONAL_DAYS + 3
    source = make_source(REVOPS_META_LOOKBACK_DAYS=str(lookback))
    early = world.now - timedelta(days=10)
    app.as_of = early
    first, _, state = read(source, "ads_insights")
    saved = {a: date.fromisoformat(d) for a, d in state["accounts"].items()}
    assert_rows_equal_world(by_key(first), world_rows(world, early))

    app.as_of = world.now
    app.log.clear()
    second, _, state2 = read(make_source(REVOPS_META_LOOKBACK_DAYS=str(lookback)), "ads_insights", state)

    for account, last in saved.items():
        ranges = insight_ranges(app, account)
        assert ranges[0][0] == last - timedelta(days=lookback), "re-pull only the lookback"
        assert min(s for s, _ in ranges) == last - timedelta(days=lookback)
    assert state2 == {"accounts": {"1001": world.end.isoformat(), "1002": world.end.isoformat()}}

    merged = {**by_key(first), **by_key(second)}  # the loader's merge: last wins
    final = world_rows(world, world.now)
    assert_rows_equal_world(merged, final)
    restated = [k for k, r in by_key(first).items() if Decimal(r["spend"]) != final[k].spend]
    assert restated, "the first run saw provisional days"
    assert all(Decimal(merged[k]["spend"]) == final[k].spend for k in restated)


def test_nothing_to_read_when_start_date_is_in_the_future(app, make_source):
    source = make_source(pinned=False, REVOPS_START_DATE="2099-01-01")
    rows, batches, state = read(source, "ads_insights", {"accounts": {"1001": "2026-06-03"}})
    assert rows == [] and batches == []
    assert state == {"accounts": {"1001": "2026-06-03"}}
    assert not app.requests_to("/insights")


# --- faults ---------------------------------------------------------------------------------------
def test_throttle_as_http_400_is_retried(app, world, make_source):
    app.faults.add("rate_limit", times=2, path="/insights")
    source = make_source()
    rows, _, _ = read(source, "ads_insights")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    first_window = [r for r in app.requests_to("/act_1001/insights")][:3]
    assert len({json.dumps(r.args, sort_keys=True) for r in first_window}) == 1, "same request resent"
    assert source.client.stats["retries"] >= 2


def test_server_error_is_retried(app, world, make_source):
    app.faults.add("server_error", times=2, path="/act_1002/insights")
    source = make_source()
    rows, _, _ = read(source, "ads_insights")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.client.stats["retries"] >= 2


def test_truncated_body_is_retried(app, world, make_source):
    app.faults.add("truncated", times=1, path="/insights")
    source = make_source()
    rows, _, _ = read(source, "ads_insights")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.client.stats["retries"] >= 1


def test_expired_token_is_fatal_and_names_the_variable(app, make_source):
    app.faults.add("expired_token", times=1)
    source = make_source()
    with pytest.raises(FatalAPIError) as excinfo:
        read(source, "ads_insights")
    message = str(excinfo.value)
    assert "REVOPS_META_ACCESS_TOKEN" in message
    assert "expired" in message
    assert TOKEN not in message
    assert len(app.log) == 1, "a dead token is not retried"


def test_wrong_token_is_fatal(app, make_source):
    wrong = secrets.token_urlsafe(24)
    with pytest.raises(FatalAPIError) as excinfo:
        read(make_source(token=wrong), "ad_accounts")
    assert "REVOPS_META_ACCESS_TOKEN" in str(excinfo.value)
    assert wrong not in str(excinfo.value) and TOKEN not in str(excinfo.value)


def test_unknown_account_is_fatal_with_metas_message(app, make_source):
    source = make_source(REVOPS_META_ACCOUNT_IDS='["act_9999"]')
    with pytest.raises(FatalAPIError, match="Unsupported get request"):
        read(source, "campaigns")


def test_reduce_data_halves_the_page_size(app, world, make_source):
    app.faults.add("reduce_data", times=1, path="/insights")
    source = make_source(**SANDBOX.small_pages_env)
    rows, _, _ = read(source, "ads_insights")
    limits = [r.args["limit"] for r in app.requests_to("/insights")]
    assert limits[:2] == ["25", "12"]
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))


def test_high_usage_pauses_before_the_next_call(app, make_source):
    app.faults.add("high_usage", times=1, path="/act_1001")
    source = make_source()
    read(source, "ad_accounts")
    assert source.client.last_usage.max_percent < 95  # the second answer was back to normal
    assert source.client.usage_pauses == [0.05], "paused once, capped by max_backoff"


def test_schema_drift_keeps_the_declared_columns(app, world, make_source):
    """A field Meta newly sends is kept as a new string column with the values sent; the
    declared columns are unchanged; an undrifted read has exactly the declared columns."""
    source = make_source()
    for stream in source.streams:  # normal reads: no column beyond the declared ones
        _, clean, _ = read(source, stream.name)
        assert {tuple(b.records.schema.names) for b in clean} == {tuple(stream.schema.names)}, stream.name
    app.faults.add("schema_drift", times=3, path="/insights")
    rows, batches, _ = read(make_source(), "ads_insights")
    assert not app.faults._items, "the drift was served"
    declared = next(s for s in source.streams if s.name == "ads_insights").schema.names
    drifted = [r for b in batches[:3] for r in b.records.to_pylist()]
    assert drifted and batches[0].records.schema.names == [*declared, "quality_ranking"]
    assert {r["quality_ranking"] for r in drifted} == {"ABOVE_AVERAGE"}  # what the sandbox sent
    assert all(r.get("quality_ranking") is None for b in batches[3:] for r in b.records.to_pylist())
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))


# --- the usage header and error classification, without a server ---------------------------------
def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


def _graph_error(code: int, subcode: int | None = None, message: str = "m", **extra: Any) -> dict:
    return {"error": {"message": message, "type": "OAuthException", "code": code, "error_subcode": subcode,
                      "fbtrace_id": "x", **extra}}


def test_usage_header_is_parsed():
    header = {"X-Business-Use-Case-Usage": json.dumps(
        {"1001": [{"type": "ads_insights", "call_count": 28, "total_cputime": 96, "total_time": 25,
                   "estimated_time_to_regain_access": 3}]})}
    usage = parse_usage(header)
    assert usage.max_percent == 96 and usage.regain_minutes == 3 and usage.near_limit
    assert parse_usage({"X-App-Usage": '{"call_count": 12, "total_time": 3}'}).max_percent == 12
    assert parse_usage({"X-Business-Use-Case-Usage": "not json"}).max_percent == 0

    client = MetaClient("http://127.0.0.1:9", TOKEN, api_version="v24.0", max_backoff=600)
    with pytest.raises(RetriableAPIError) as excinfo:
        client.classify(_response(400, _graph_error(80000, 2446079), header))
    assert excinfo.value.retry_after == 180, "regain time is in minutes"
    client.classify(_response(200, {"data": []}, header))
    assert client._pause_before_next == 180


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, _graph_error(17), RetriableAPIError),
        (400, _graph_error(613), RetriableAPIError),
        (400, _graph_error(80004), RetriableAPIError),
        (400, _graph_error(2), RetriableAPIError),
        (400, _graph_error(1, is_transient=True), RetriableAPIError),
        (503, {"error": {"message": "down", "code": 1}}, RetriableAPIError),
        (502, "<html>bad gateway</html>", RetriableAPIError),
        (400, _graph_error(190, 460), FatalAPIError),
        (400, _graph_error(10), FatalAPIError),
        (403, _graph_error(200), FatalAPIError),
        (400, _graph_error(100, 33), FatalAPIError),
        (400, _graph_error(2635), FatalAPIError),
    ],
)
def test_errors_are_classified(status, body, expected):
    client = MetaClient("http://127.0.0.1:9", TOKEN, api_version="v24.0")
    with pytest.raises(expected):
        client.classify(_response(status, body))


def test_token_never_leaks_from_error_messages():
    client = MetaClient("http://127.0.0.1:9", TOKEN, api_version="v24.0")
    with pytest.raises(FatalAPIError) as excinfo:
        client.classify(_response(400, _graph_error(190, 463, message=f"bad token {TOKEN}")))
    assert TOKEN not in str(excinfo.value)
    assert "REVOPS_META_ACCESS_TOKEN" in str(excinfo.value)


# --- the sandbox speaks Meta ----------------------------------------------------------------------
def test_sandbox_validates_params_and_pages_like_graph(app, server):
    url = f"{server.url}/v24.0/act_1001/insights"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.get(url, params={"level": "ad", "time_increment": "1"}, headers=auth, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = requests.get(url, params={"fields": "nope"}, headers=auth, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5)
    err = r.json()["error"]
    assert (r.status_code, err["code"], err["error_subcode"]) == (400, 190, 463)
    app.faults.add("rate_limit")
    r = requests.get(url, headers=auth, timeout=5)
    assert (r.status_code, r.json()["error"]["code"]) == (400, 80000)
    assert json.loads(r.headers["X-Business-Use-Case-Usage"])["1001"][0]["call_count"] == 100

    params = {"level": "ad", "time_increment": "1", "limit": "5", "access_token": TOKEN,
              "time_range": json.dumps({"since": "2026-06-01", "until": "2026-06-03"}),
              "fields": "ad_id,spend,actions"}
    page = requests.get(url, params=params, timeout=5).json()
    assert len(page["data"]) == 5 and page["paging"]["next"].startswith(server.url)
    assert "access_token=" in page["paging"]["next"], "Graph echoes a query token into next"
    row = page["data"][0]
    types = {a["action_type"]: a["value"] for a in row["actions"]}
    assert types["lead"] == types["onsite_conversion.lead_grouped"]
    assert isinstance(row["spend"], str) and set(row) == {"ad_id", "spend", "actions", "date_start", "date_stop"}
    last = requests.get(url, params={**params, "limit": "500"}, timeout=5).json()
    assert "next" not in last["paging"]


def test_connector_drops_a_token_found_in_paging_next(app, make_source):
    client = make_source().client
    params = {"level": "ad", "time_increment": "1", "limit": "10", "access_token": TOKEN,
              "time_range": json.dumps({"since": "2026-06-01", "until": "2026-06-03"})}
    pages = list(client.iter_pages("v24.0/act_1001/insights", params))
    assert len(pages) >= 2 and pages[-1].is_last and not pages[0].is_last
    assert all("access_token" not in r.args for r in app.log[1:])


def test_utm_campaign_is_decoded_from_the_creatives_url_tags():
    """url_tags as Meta returns them: key=value pairs, values percent-encoded, macros unexpanded
    (https://developers.facebook.com/documentation/ads-commerce/marketing-api/reference/ad-creative)."""
    from revops.sources.meta.streams import utm_campaign_of

    tags = "utm_source=facebook&utm_medium=paid_social&utm_campaign=US%20Demo%20Request%20Q3&utm_content={{ad.id}}"
    assert utm_campaign_of(tags, "238") == "US Demo Request Q3"
    assert utm_campaign_of("utm_campaign={{campaign.id}}&utm_source=fb", "238") == "238"
    assert utm_campaign_of("utm_campaign={{campaign.name}}", "238") is None  # the name at click time: unknown
    assert utm_campaign_of("utm_source=fb", "238") is None
    assert utm_campaign_of(None, "238") is None
    assert utm_campaign_of("utm_campaign=Spring+Promo", "238") == "Spring Promo"
