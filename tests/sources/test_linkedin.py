"""LinkedIn connector against the LinkedIn sandbox over real HTTP (127.0.0.1).

The sandbox shows a small synthetic world at a clock in LinkedIn's wire format; the connector
must end up with exactly the world's rows: Rest.li-encoded queries, URN ids, epoch-ms
timestamps, long cost strings, UTC days, the unpaged 15k-row cap, restated days and LinkedIn's
error bodies.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.linkedin import LinkedInSandbox, cost_string
from revops.sandbox.world import PROVISIONAL_DAYS, AdDay, World, WorldConfig
from revops.settings import Settings
from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.linkedin import SPEC
from revops.sources.linkedin.client import LinkedInClient, restli_date_range, restli_list
from revops.sources.linkedin.streams import LinkedInSource

SANDBOX = get_sandbox("linkedin")

TOKEN = secrets.token_urlsafe(24)
ACCOUNT = "508123456"
Key = tuple[str, str]


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(days=20, platforms=("linkedin",)))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token=TOKEN)) as srv:
        yield srv


@pytest.fixture
def app(server: SandboxServer, world: World) -> Iterator[LinkedInSandbox]:
    sandbox = server.app
    assert isinstance(sandbox, LinkedInSandbox)
    sandbox.as_of = world.now
    sandbox.row_cap = 15_000
    sandbox.faults.clear()
    sandbox.log.clear()
    yield sandbox
    sandbox.faults.clear()
    sandbox.row_cap = 15_000


@pytest.fixture
def make_source(server, world, app, monkeypatch) -> Callable[..., LinkedInSource]:
    """A connector built from REVOPS_* variables, its clock pinned to the sandbox's unless
    ``pinned=False`` (the wall clock, as in production)."""

    def build(pinned: bool = True, token: str = TOKEN, **env: str) -> LinkedInSource:
        variables = {**SANDBOX.env(server.url, token, world), "REVOPS_HTTP_MAX_BACKOFF_SECONDS": "0.02", **env}
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        if not pinned:
            return SPEC.build(settings)  # type: ignore[return-value]
        return LinkedInSource(settings, clock=lambda: app.as_of)

    return build


def read(source: LinkedInSource, stream_name: str, state: dict | None = None):
    stream = next(s for s in source.streams if s.name == stream_name)
    batches = list(source.read(stream, state))
    rows = [r for b in batches for r in b.records.to_pylist()]
    states = [b.state for b in batches if b.state is not None]
    return rows, batches, (states[-1] if states else state)


def world_rows(world: World, as_of: datetime) -> dict[Key, AdDay]:
    return {
        (f"urn:li:sponsoredCreative:{r.ad.ad_id}", r.day.isoformat()): r
        for r in world.ad_days_as_of(as_of, "linkedin")
    }


def by_key(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    return {(r["pivot_value"], r["date_start"]): r for r in rows}


def spend(raw: str) -> Decimal:
    """The cost the way staging reads it: decimal(18, 6)."""
    return Decimal(raw).quantize(Decimal("0.000001"))


def assert_rows_equal_world(rows: dict[Key, dict[str, Any]], want: dict[Key, AdDay]) -> None:
    assert want and set(rows) == set(want)
    for key, truth in want.items():
        got = rows[key]
        assert spend(got["costInLocalCurrency"]) == truth.spend, key
        assert int(got["impressions"]) == truth.impressions, key
        assert int(got["clicks"]) == truth.clicks, key
        assert int(got["externalWebsiteConversions"]) == truth.platform_leads, key
        assert got["conversionValueInLocalCurrency"] == "0"
        assert got["account_urn"] == f"urn:li:sponsoredAccount:{ACCOUNT}"
        assert json.loads(got["pivotValues"]) == [key[0]]
        day = date.fromisoformat(key[1])
        assert (got["dateRange.end.year"], got["dateRange.end.month"], got["dateRange.end.day"]) == (
            str(day.year), str(day.month), str(day.day)
        )


def analytics_ranges(app: LinkedInSandbox) -> list[tuple[date, date]]:
    out = []
    for r in app.requests_to("/adAnalytics"):
        nums = [int(n) for n in r.args["dateRange"].replace(")", "").replace("(", "").split(",") for n in [n.split(":")[-1]]]
        out.append((date(*nums[:3]), date(*nums[3:])))
    return out


def get(server: SandboxServer, path: str, query: str = "", token: str = TOKEN, **headers: str) -> requests.Response:
    base = {"Authorization": f"Bearer {token}", "LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}
    url = f"{server.url}/rest/{path}" + (f"?{query}" if query else "")
    return requests.get(url, headers={**base, **headers}, timeout=5)


# --- registry and settings ------------------------------------------------------------------------
def test_spec_points_settings_at_the_sandbox(server, world, make_source, monkeypatch):
    source = make_source()
    s = source.settings
    assert s.linkedin_base_url == f"{server.url}/rest"
    assert s.linkedin_account_ids == [ACCOUNT]
    assert SPEC.configured(s) and SPEC.secret_env == "REVOPS_LINKEDIN_ACCESS_TOKEN"
    assert SPEC.refreshes_auth is False
    assert [st.name for st in source.streams] == ["ad_accounts", "campaign_groups", "campaigns", "creatives", "ad_analytics"]
    assert next(st for st in source.streams if st.name == "ad_analytics").lookback == 30
    monkeypatch.delenv("REVOPS_LINKEDIN_ACCESS_TOKEN")
    assert not SPEC.configured(Settings(_env_file=None))


# --- reading --------------------------------------------------------------------------------------
def test_full_read_matches_the_world(app, world, make_source):
    source = make_source(pinned=False)  # the wall clock, as in production
    rows, batches, state = read(source, "ad_analytics")
    assert len(rows) == len(by_key(rows)), "duplicate keys"
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert state == {"accounts": {ACCOUNT: world.end.isoformat()}}
    ranges = analytics_ranges(app)
    assert ranges[0][0] == world.start
    assert all((u - s).days < 30 for s, u in ranges), "30-day windows"
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in zip(ranges, ranges[1:])), "ascending, no gap"
    assert ranges[-1][1] in {datetime.now(UTC).date(), datetime.now(UTC).date() - timedelta(days=1)}
    for r in app.requests_to("/adAnalytics"):
        assert r.headers["Linkedin-Version"] == "202610"
        assert r.headers["X-Restli-Protocol-Version"] == "2.0.0"
        assert len(r.args["fields"].split(",")) <= 20


def test_costs_are_long_strings_parsed_exactly(app, world, make_source):
    rows, _, _ = read(make_source(), "ad_analytics")
    costs = [r["costInLocalCurrency"] for r in rows]
    noisy = [c for c in costs if len(c.split(".")[1]) > 6]
    assert len(noisy) > len(costs) // 3, "the sandbox writes float noise"
    assert any("9999999" in c for c in noisy) and any("0000000000" in c for c in noisy)
    # float() would keep the noise; the decimal at 6 places is exact
    assert all(spend(c) == Decimal(c).quantize(Decimal("0.01")) for c in costs)
    assert all(r["impressions"].isdigit() and r["clicks"].isdigit() for r in rows), "ints stored as strings"
    renders = {cost_string(Decimal("107.53"), f"salt{i}") for i in range(30)}
    assert len(renders) > 3 and {spend(c) for c in renders} == {Decimal("107.53")}


def test_entities_ids_urns_and_epoch_ms(app, world, make_source):
    source = make_source()
    accounts, _, state = read(source, "ad_accounts")
    assert state is None  # full refresh
    assert accounts == [{"id": ACCOUNT, "name": "Acme B2B EMEA", "currency": "EUR", "status": "ACTIVE",
                         "type": "BUSINESS", "test": "false", "reference": "urn:li:organization:2414183"}]
    groups, _, _ = read(source, "campaign_groups")
    campaigns, _, _ = read(source, "campaigns")
    creatives, _, _ = read(source, "creatives")
    for name, got in (("campaign_groups", groups), ("campaigns", campaigns), ("creatives", creatives)):
        assert {(r["id"],) for r in got} == app.expected_keys(name)
    want = {c.campaign_id: c for c in world.campaigns if c.platform == "linkedin"}
    assert {g["id"]: g["name"] for g in groups} == {k: c.name_as_of(app.as_of) for k, c in want.items()}
    assert all(g["objectiveType"] == "LEAD_GENERATION" for g in groups)
    group_of = {a.ad_group_id: a.campaign_id for a in world.ads}
    assert all(c["campaignGroup"] == f"urn:li:sponsoredCampaignGroup:{group_of[c['id']]}" for c in campaigns)
    campaign_of = {a.ad_id: a.ad_group_id for a in world.ads}
    for cr in creatives:
        ad_id = cr["id"].removeprefix("urn:li:sponsoredCreative:")
        assert cr["campaign"] == f"urn:li:sponsoredCampaign:{campaign_of[ad_id]}"
    stamps = [int(g["changeAuditStamps.lastModified.time"]) for g in groups] + [int(c["createdAt"]) for c in creatives]
    start_ms = datetime.combine(world.start, time(0), UTC).timestamp() * 1000
    assert all(start_ms - 20 * 86_400_000 < ms < start_ms + 60 * 86_400_000 for ms in stamps), "epoch milliseconds"


def test_archived_groups_need_the_status_list(app, server, make_source):
    """At the clock the world is over: one group is ARCHIVED, its campaigns COMPLETED. A finder
    without the status list misses them; the connector asks for every status."""
    groups, _, _ = read(make_source(), "campaign_groups")
    campaigns, _, _ = read(make_source(), "campaigns")
    assert {g["status"] for g in groups} == {"ACTIVE", "ARCHIVED"}
    assert {c["status"] for c in campaigns} == {"ACTIVE", "COMPLETED"}
    bare = get(server, f"adAccounts/{ACCOUNT}/adCampaignGroups", "q=search").json()["elements"]
    assert len(bare) < len(groups) and all(g["status"] == "ACTIVE" for g in bare)


def test_day_boundary_is_utc(app, world, make_source):
    """LinkedIn buckets days in UTC: at 00:30 UTC on day 11 that day exists (it is still day 10
    in New York) and the connector asks up to it; at 23:30 UTC day 12 does not exist yet (it is
    already day 12 in Berlin)."""
    day11 = world.start + timedelta(days=10)
    app.as_of = datetime.combine(day11, time(0, 30), UTC)
    rows, _, state = read(make_source(), "ad_analytics")
    assert set(by_key(rows)) == app.expected_keys("ad_analytics")
    assert max(r["date_start"] for r in rows) == day11.isoformat()
    assert state == {"accounts": {ACCOUNT: day11.isoformat()}}
    assert analytics_ranges(app)[-1][1] == day11

    app.log.clear()
    app.as_of = datetime.combine(day11, time(23, 30), UTC)
    rows, _, _ = read(make_source(), "ad_analytics")
    assert max(r["date_start"] for r in rows) == day11.isoformat()
    assert analytics_ranges(app)[-1][1] == day11


def test_restli_query_is_encoded_by_hand(app, server, make_source):
    read(make_source(), "ad_analytics")
    r = app.requests_to("/adAnalytics")[0]
    assert r.args["accounts"] == f"List(urn:li:sponsoredAccount:{ACCOUNT})"  # decoded by werkzeug
    assert r.args["dateRange"].startswith("(start:(year:")
    # what requests would send by itself is refused, as LinkedIn refuses it
    params = {"q": "analytics", "pivot": "CREATIVE", "timeGranularity": "DAILY",
              "dateRange": restli_date_range(date(2026, 6, 1), date(2026, 6, 2)),
              "accounts": f"List(urn:li:sponsoredAccount:{ACCOUNT})", "fields": "impressions"}
    url = f"{server.url}/rest/adAnalytics"
    headers = {"Authorization": f"Bearer {TOKEN}", "LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}
    bad = requests.get(url, params=params, headers=headers, timeout=5)
    assert bad.status_code == 400 and bad.json()["code"] == "ILLEGAL_ARGUMENT"
    raw = "&".join(f"{k}={v}" for k, v in params.items())  # URN colons unencoded: also refused
    assert get(server, "adAnalytics", raw).status_code == 400
    good = raw.replace(params["accounts"], restli_list([f"urn:li:sponsoredAccount:{ACCOUNT}"]))
    assert get(server, "adAnalytics", good).status_code == 200


def test_small_pages_follow_next_page_token(app, world, make_source):
    rows, batches, _ = read(make_source(**SANDBOX.small_pages_env), "creatives")
    assert {(r["id"],) for r in rows} == app.expected_keys("creatives")
    calls = app.requests_to("/creatives")
    assert len(calls) == len(rows) and all(r.args["pageSize"] == "1" for r in calls)
    assert "pageToken" not in calls[0].args and all("pageToken" in r.args for r in calls[1:])
    assert all(r.headers.get("X-Restli-Method") == "FINDER" for r in calls)


def test_capped_answers_split_the_date_range(app, world, make_source):
    app.row_cap = 20  # about 2.5 days of this world's 8 creatives
    rows, batches, state = read(make_source(REVOPS_LINKEDIN_ANALYTICS_ROW_LIMIT="20"), "ad_analytics")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    ranges = analytics_ranges(app)
    assert len(ranges) > 10 and min((u - s).days for s, u in ranges) <= 1
    assert all(len(b) < 20 for b in batches), "no truncated answer was kept"
    assert state == {"accounts": {ACCOUNT: world.end.isoformat()}}


def test_capped_single_day_splits_by_campaign(app, world, make_source):
    app.row_cap = 5  # one day has up to 8 creatives: only a campaign filter gets under it
    rows, batches, _ = read(make_source(REVOPS_LINKEDIN_ANALYTICS_ROW_LIMIT="5"), "ad_analytics")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    filtered = [r for r in app.requests_to("/adAnalytics") if "campaigns" in r.args]
    assert filtered and all(r.args["campaigns"].startswith("List(urn:li:sponsoredCampaign:") for r in filtered)
    # a day split by campaign carries state only on its last part
    assert any(b.state is None for b in batches)


def test_capped_single_campaign_day_is_fatal(app, make_source):
    app.row_cap = 2  # one campaign has 2 creatives: even a single-campaign day is capped
    with pytest.raises(FatalAPIError, match="truncated"):
        read(make_source(REVOPS_LINKEDIN_ANALYTICS_ROW_LIMIT="2"), "ad_analytics")


def test_incremental_resume_restates_provisional_days(app, world, make_source):
    lookback = PROVISIONAL_DAYS + 3
    early = world.now - timedelta(days=8)
    app.as_of = early
    first, _, state = read(make_source(REVOPS_LINKEDIN_LOOKBACK_DAYS=str(lookback)), "ad_analytics")
    saved = date.fromisoformat(state["accounts"][ACCOUNT])
    assert_rows_equal_world(by_key(first), world_rows(world, early))

    app.as_of = world.now
    app.log.clear()
    second, _, state2 = read(make_source(REVOPS_LINKEDIN_LOOKBACK_DAYS=str(lookback)), "ad_analytics", state)
    assert analytics_ranges(app)[0][0] == saved - timedelta(days=lookback), "re-pull only the lookback"
    assert state2 == {"accounts": {ACCOUNT: world.end.isoformat()}}
    merged = {**by_key(first), **by_key(second)}  # the loader's merge: last wins
    final = world_rows(world, world.now)
    assert_rows_equal_world(merged, final)
    restated = [k for k, r in by_key(first).items() if spend(r["costInLocalCurrency"]) != final[k].spend]
    assert restated, "the first run saw provisional days"


# --- faults ---------------------------------------------------------------------------------------
def test_throttle_429_is_retried_with_the_same_request(app, world, make_source):
    app.faults.add("rate_limit", times=2, path="/adAnalytics")
    source = make_source()
    rows, _, _ = read(source, "ad_analytics")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    first = app.requests_to("/adAnalytics")[:3]
    assert len({json.dumps(r.args, sort_keys=True) for r in first}) == 1
    assert source.client.stats["retries"] >= 2


@pytest.mark.parametrize("fault", ["server_error", "truncated"])
def test_transient_faults_are_retried(app, world, make_source, fault):
    app.faults.add(fault, times=2, path="/adAnalytics")
    source = make_source()
    rows, _, _ = read(source, "ad_analytics")
    assert_rows_equal_world(by_key(rows), world_rows(world, app.as_of))
    assert source.client.stats["retries"] >= 2


def test_expired_token_is_fatal_names_the_variable_and_is_not_retried(app, make_source):
    app.faults.add("expired_token", times=1)
    with pytest.raises(FatalAPIError) as excinfo:
        read(make_source(), "ad_accounts")
    message = str(excinfo.value)
    assert "REVOPS_LINKEDIN_ACCESS_TOKEN" in message and "EXPIRED_ACCESS_TOKEN" in message
    assert TOKEN not in message
    assert len(app.log) == 1


def test_wrong_token_is_fatal(app, make_source):
    wrong = secrets.token_urlsafe(24)
    with pytest.raises(FatalAPIError) as excinfo:
        read(make_source(token=wrong), "campaign_groups")
    assert "65600" in str(excinfo.value) and "REVOPS_LINKEDIN_ACCESS_TOKEN" in str(excinfo.value)
    assert wrong not in str(excinfo.value) and TOKEN not in str(excinfo.value)
    assert len(app.log) == 1


def test_sunset_version_is_fatal_and_names_the_version_setting(app, make_source):
    with pytest.raises(FatalAPIError) as excinfo:
        read(make_source(REVOPS_LINKEDIN_VERSION="202401"), "ad_accounts")
    assert "REVOPS_LINKEDIN_VERSION" in str(excinfo.value) and "NONEXISTENT_VERSION" in str(excinfo.value)
    app.faults.add("version_sunset")
    with pytest.raises(FatalAPIError, match="REVOPS_LINKEDIN_VERSION"):
        read(make_source(), "ad_accounts")
    assert len(app.log) == 2, "not retried"


def test_forbidden_is_fatal_with_linkedins_message(app, make_source):
    app.faults.add("forbidden", path="/creatives")
    with pytest.raises(FatalAPIError, match="Not enough permissions"):
        read(make_source(), "creatives")
    with pytest.raises(FatalAPIError, match="ACCESS_DENIED"):
        read(make_source(REVOPS_LINKEDIN_ACCOUNT_IDS='["999"]'), "ad_accounts")


def test_schema_drift_keeps_the_declared_columns(app, world, make_source):
    """A field LinkedIn newly sends (``costInUsd``, not requested) is kept as a new string column
    holding what was sent; the declared columns are unchanged; normal reads add no column."""
    source = make_source()
    for stream in source.streams:  # normal reads: no column beyond the declared ones
        _, clean, _ = read(source, stream.name)
        assert {tuple(b.records.schema.names) for b in clean} == {tuple(stream.schema.names)}, stream.name
    app.faults.add("schema_drift", times=1, path="/adAnalytics")  # the one analytics request
    rows, batches, _ = read(make_source(), "ad_analytics")
    assert not app.faults._items, "the drift was served"
    declared = next(s for s in source.streams if s.name == "ad_analytics").schema.names
    assert batches[0].records.schema.names == [*declared, "costInUsd"]
    want = world_rows(world, app.as_of)
    drifted = by_key([r for b in batches[:1] for r in b.records.to_pylist()])
    assert drifted
    cents = Decimal("0.01")
    for key, row in drifted.items():  # the value sent: the day's spend in USD at the sandbox's rate
        sent = Decimal(row["costInUsd"]).quantize(cents)
        assert sent == (want[key].spend * Decimal("1.0841")).quantize(cents), key
    assert all(r.get("costInUsd") is None for b in batches[1:] for r in b.records.to_pylist())
    assert_rows_equal_world(by_key(rows), want)


def test_malformed_record_is_stored_as_sent(app, make_source):
    """A bad cost reaches the batch unchanged; the raw suite quarantines it (pattern checked here
    without GX's start-up cost: the suite's own regex)."""
    app.faults.add("malformed_record", path="/adAnalytics")
    rows, _, _ = read(make_source(), "ad_analytics")
    bad = [r for r in rows if r["costInLocalCurrency"] == "N/A"]
    assert len(bad) == 1
    suite = json.loads((Path(__file__).parents[2] / "expectations/raw__linkedin__ad_analytics.json").read_text())

    regex = next(e["kwargs"]["regex"] for e in suite["expectations"]
                 if e["kwargs"]["column"] == "costInLocalCurrency" and "regex" in e["kwargs"])
    assert not re.match(regex, "N/A") and all(re.match(regex, r["costInLocalCurrency"]) for r in rows if r not in bad)


# --- error classification, without a server -------------------------------------------------------
def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"status": 429, "message": "Resource level throttle APPLICATION DAY limit"}, RetriableAPIError),
        (500, {"status": 500, "message": "Internal Server Error"}, RetriableAPIError),
        (504, "<html>gateway timeout</html>", RetriableAPIError),
        (401, {"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "m"}, FatalAPIError),
        (426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "m"}, FatalAPIError),
        (400, {"status": 400, "code": "ILLEGAL_ARGUMENT", "message": "m"}, FatalAPIError),
        (403, {"status": 403, "code": "ACCESS_DENIED", "message": "m"}, FatalAPIError),
    ],
)
def test_errors_are_classified(status, body, expected):
    client = LinkedInClient("http://127.0.0.1:9", TOKEN, version="202610")
    with pytest.raises(expected):
        client.classify(_response(status, body))


def test_retry_after_is_honoured_and_token_never_leaks():
    client = LinkedInClient("http://127.0.0.1:9", TOKEN, version="202610")
    with pytest.raises(RetriableAPIError) as excinfo:
        client.classify(_response(429, {"status": 429, "message": "slow down"}, {"Retry-After": "7"}))
    assert excinfo.value.retry_after == 7
    with pytest.raises(FatalAPIError) as fatal:
        client.classify(_response(401, {"status": 401, "serviceErrorCode": 65600, "message": f"bad {TOKEN}"}))
    assert TOKEN not in str(fatal.value)
