"""Salesforce connector against its sandbox over real HTTP on 127.0.0.1.

The expected values are computed here from the synthetic world directly (never through the
sandbox's helpers), so a wrong field in either the sandbox or the connector shows up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.salesforce import SalesforceSandbox
from revops.sandbox.world import World, WorldConfig
from revops.settings import Settings
from revops.sources.base import Batch
from revops.sources.errors import FatalAPIError
from revops.sources.salesforce import SPEC
from revops.sources.salesforce.client import SECRET_ENV, RequestLimitExceeded
from revops.sources.salesforce.streams import SalesforceSource

SANDBOX = get_sandbox("salesforce")

REFRESH = "5Aep861-refresh-token-secret-3f9a"
CLIENT_ID = "3MVG9-test-client"
CLIENT_SECRET = "client-secret-7d1e"
#: ~330 contacts; a few duplicates exist at EARLIER and are merged before WORLD.now
WORLD = World(WorldConfig(days=23))
EARLIER = WORLD.now - timedelta(days=8)
ORG_TZ = ZoneInfo("America/Los_Angeles")
SMALL_BATCH = 50


class _CurrentApp:
    """One server for the module, a fresh sandbox app per test."""

    platform = "salesforce"

    def __init__(self) -> None:
        self.app = _new_app()

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def _new_app() -> SalesforceSandbox:
    return SalesforceSandbox(WORLD, token=REFRESH, client_id=CLIENT_ID,
                             client_secret=CLIENT_SECRET, min_batch_size=SMALL_BATCH)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[_CurrentApp, str]]:
    current = _CurrentApp()
    with SandboxServer(current) as running:  # type: ignore[arg-type]
        yield current, running.url


@pytest.fixture
def app(server: tuple[_CurrentApp, str]) -> SalesforceSandbox:
    server[0].app = _new_app()
    return server[0].app


@pytest.fixture
def url(server: tuple[_CurrentApp, str], app: SalesforceSandbox) -> str:
    return server[1]


def make_settings(url: str, refresh: str = REFRESH, **extra: Any) -> Settings:
    kwargs: dict[str, Any] = {
        "http_max_backoff_seconds": 0.02, "http_max_retries": 3,
        "salesforce_login_url": url, "salesforce_client_id": CLIENT_ID,
        "salesforce_client_secret": CLIENT_SECRET, "salesforce_refresh_token": refresh, **extra,
    }
    return Settings(_env_file=None, **kwargs)


def read(source: SalesforceSource, name: str, state: dict | None = None
         ) -> tuple[dict[str, dict], list[Batch]]:
    stream = next(s for s in source.streams if s.name == name)
    batches = list(source.read(stream, state))
    rows = [r for b in batches for r in b.records.to_pylist()]
    by_id = {r["Id"]: r for r in rows}
    assert len(by_id) == len(rows), "a read yielded a key twice"
    return by_id, batches


def last_state(batches: list[Batch]) -> dict | None:
    states = [b.state for b in batches if b.state is not None]
    return states[-1] if states else None


def sf(dt: datetime | None) -> str | None:
    """The world's timestamp as Salesforce shows it, computed independently."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "+0000")


def vis(t: datetime | None, as_of: datetime) -> datetime | None:
    return t if t is not None and t <= as_of else None


def lead_id(cid: int) -> str:
    return f"00Q{cid:015d}"


def queries(app: SalesforceSandbox) -> list[str]:
    return [r.args["q"] for r in app.log if "q" in r.args]


# --------------------------------------------------------------------------- auth
def test_oauth_refresh_then_everything_on_instance_url(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url))
    rows, _ = read(source, "users")
    assert app.log[0].path == "/services/oauth2/token" and app.log[0].method == "POST"
    api = app.log[1:]
    assert api and all(r.path.startswith("/services/data/v66.0/") for r in api)
    auth = {r.headers.get("Authorization") for r in api}
    assert len(auth) == 1 and next(iter(auth)).startswith("Bearer ")
    assert REFRESH not in next(iter(auth))
    assert source.client.instance_url == url
    assert set(rows) == {f"005{o.owner_id:0>15}" for o in WORLD.owners}
    assert {r["Department"] for r in rows.values()} == {o.team for o in WORLD.owners}


def test_revoked_refresh_token_is_fatal_naming_the_variable(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url, refresh="revoked-token-abc"))
    with pytest.raises(FatalAPIError) as err:
        read(source, "leads")
    assert SECRET_ENV in str(err.value) and "invalid_grant" in str(err.value)
    assert "revoked-token-abc" not in str(err.value)
    assert source.client.stats["retries"] == 0 and len(app.log) == 1


def test_wrong_client_secret_names_the_connected_app_settings(url: str) -> None:
    source = SalesforceSource(make_settings(url, salesforce_client_secret="nope"))
    with pytest.raises(FatalAPIError, match="REVOPS_SALESFORCE_CLIENT_SECRET") as err:
        read(source, "users")
    assert "nope" not in str(err.value)


def test_expired_session_is_refreshed_once_and_secrets_stay_out_of_logs(
    url: str, app: SalesforceSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = SalesforceSource(make_settings(url, salesforce_batch_size=SMALL_BATCH))
    app.faults.add("expired_token", path="/queryAll/01g", after=1)  # on a nextRecordsUrl page
    rows, _ = read(source, "leads")
    assert set(rows) == {lead_id(c.contact_id) for c in WORLD.contacts
                         if c.created_at <= app.as_of}
    assert source.client.stats["auth_refreshes"] == 1
    assert [r.path for r in app.log].count("/services/oauth2/token") == 2
    for secret in (REFRESH, CLIENT_SECRET, source.client._access_token):
        assert secret not in caplog.text


def test_session_not_valid_for_rest_is_fatal_without_refresh(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url))
    app.faults.add("session_not_for_rest")
    with pytest.raises(FatalAPIError, match="not valid for use with the REST API"):
        read(source, "users")
    assert source.client.stats["auth_refreshes"] == 0


# --------------------------------------------------------------------------- wire values
def test_leads_equal_the_world_and_keep_typed_values_as_strings(url: str, app: SalesforceSandbox) -> None:
    app.as_of = EARLIER
    rows, batches = read(SalesforceSource(make_settings(url)), "leads")
    people = [c for c in WORLD.contacts if c.created_at <= EARLIER]
    assert set(rows) == {lead_id(c.contact_id) for c in people}
    seen_converted = seen_rejected = 0
    for c in people:
        r = rows[lead_id(c.contact_id)]
        assert len(r["Id"]) == 18
        cut = min(EARLIER, c.merged_at) if c.merged_at else EARLIER
        sql_at, rejected = vis(c.stage_at.get("sql"), cut), vis(c.rejected_at, cut)
        mql = vis(c.stage_at.get("mql"), cut)
        lead = vis(c.stage_at.get("lead"), cut)
        expected = ("Closed - Converted" if sql_at else "Disqualified" if rejected
                    else "Marketing Qualified" if mql else "Open - Not Contacted" if lead
                    else "Subscriber")
        assert r["Status"] == expected
        assert r["CreatedDate"] == sf(c.created_at)
        assert r["IsConverted"] == ("true" if sql_at else "false")
        assert r["ConvertedContactId"] == (f"003{c.contact_id:015d}" if sql_at else None)
        assert r["ConvertedOpportunityId"] is None
        assert r["UTM_Campaign__c"] == c.utm_campaign  # as sent, spacing and case kept
        assert r["Disqualification_Reason__c"] == (c.rejection_reason if rejected else None)
        assert r["OwnerId"] == (f"005{c.owner_id:0>15}" if c.owner_id else "00G000000000000001")
        seen_converted += bool(sql_at)
        seen_rejected += bool(rejected)
    assert seen_converted and seen_rejected
    assert all(f.type == "string" for f in batches[0].records.schema)


def test_converted_date_is_the_org_local_day_not_the_utc_day(url: str) -> None:
    """The day boundary: ConvertedDate is the day in the org's zone (America/Los_Angeles)."""
    rows, _ = read(SalesforceSource(make_settings(url)), "leads")
    crossing = 0
    for c in WORLD.contacts:
        sql_at = vis(c.stage_at.get("sql"), WORLD.now)
        if c.created_at > WORLD.now or sql_at is None or (c.merged_at and c.merged_at <= sql_at):
            continue
        local = sql_at.astimezone(ORG_TZ).date()
        assert rows[lead_id(c.contact_id)]["ConvertedDate"] == local.isoformat()
        crossing += local != sql_at.astimezone(UTC).date()
    assert crossing, "no conversion between UTC midnight and LA midnight: the test proves nothing"


def test_lead_history_rebuilds_stage_times_to_the_millisecond(url: str) -> None:
    rows, _ = read(SalesforceSource(make_settings(url)), "lead_history")
    by_lead: dict[str, list[dict]] = {}
    for r in rows.values():
        by_lead.setdefault(r["LeadId"], []).append(r)
    checked = 0
    now = WORLD.now
    for c in WORLD.contacts:
        if c.merged_at is not None or c.created_at > now:
            continue
        hist = by_lead[lead_id(c.contact_id)]
        entered = {r["NewValue"]: r["CreatedDate"] for r in hist if r["Field"] == "Status"}
        created = [r for r in hist if r["Field"] == "created"]
        assert len(created) == 1 and created[0]["CreatedDate"] == sf(c.created_at)
        sql_at = vis(c.stage_at.get("sql"), now)
        assert entered.get("Marketing Qualified") == sf(vis(c.stage_at.get("mql"), now))
        assert entered.get("Closed - Converted") == sf(sql_at)
        assert entered.get("Disqualified") == sf(vis(c.rejected_at, now))
        lead_at = entered.get("Open - Not Contacted") or created[0]["CreatedDate"]
        if vis(c.stage_at["lead"], now):
            assert lead_at == sf(c.stage_at["lead"])
        converted = [r for r in hist if r["Field"] == "leadConverted"]
        assert [r["CreatedDate"] for r in converted] == ([sf(sql_at)] if sql_at else [])
        checked += 1
    assert checked > 100


def test_merged_lead_is_deleted_with_its_master_and_only_queryall_returns_it(
    url: str, app: SalesforceSandbox
) -> None:
    source = SalesforceSource(make_settings(url))
    rows, _ = read(source, "leads")
    losers = [c for c in WORLD.contacts if c.merged_at and c.merged_at <= app.as_of]
    assert losers
    for c in losers:
        r = rows[lead_id(c.contact_id)]
        assert r["IsDeleted"] == "true"
        assert r["MasterRecordId"] == lead_id(c.merged_into)
        assert r["SystemModstamp"] == sf(c.merged_at)
    # a plain delete: IsDeleted, no MasterRecordId, SystemModstamp moved to the deletion
    deleted = [c for c in WORLD.contacts if c.created_at <= app.as_of and c.deleted_by(app.as_of)]
    assert deleted
    for c in deleted:
        r = rows[lead_id(c.contact_id)]
        assert (r["IsDeleted"], r["MasterRecordId"], r["SystemModstamp"]) == (
            "true", None, sf(c.deleted_at))
    gone = {lead_id(c.contact_id) for c in losers + deleted}
    assert all(r["IsDeleted"] == "false" for k, r in rows.items() if k not in gone)
    history, _ = read(source, "lead_history")
    merged_rows = [r for r in history.values() if r["Field"] == "leadMerged"]
    assert {r["LeadId"] for r in merged_rows} == {lead_id(c.merged_into) for c in losers}
    # /query hides deleted rows, /queryAll keeps them (the reason the connector uses it)
    client = source.client
    q = {"q": "SELECT Id FROM Lead WHERE SystemModstamp >= 2020-01-01T00:00:00Z"}
    live = client.get_json(client.query_path("query"), params=q)
    every = client.get_json(client.query_path("queryAll"), params=q)
    assert every["totalSize"] - live["totalSize"] == len(losers) + len(deleted)


def test_opportunities_money_stages_and_exact_close_time(url: str) -> None:
    source = SalesforceSource(make_settings(url))
    opps, _ = read(source, "opportunities")
    history, _ = read(source, "opportunity_history")
    roles, _ = read(source, "opportunity_contact_roles")
    deals = WORLD.deals_as_of(WORLD.now)
    assert set(opps) == {f"006{d.deal_id:015d}" for d in deals}
    closes: dict[str, str] = {}
    for h in history.values():
        if h["StageName"] in ("Closed Won", "Closed Lost"):
            closes[h["OpportunityId"]] = h["CreatedDate"]
    role_of = {r["OpportunityId"]: r for r in roles.values()}
    for d in deals:
        oid = f"006{d.deal_id:015d}"
        o = opps[oid]
        assert Decimal(o["Amount"]) == d.amount
        closed = d.close_at is not None and d.close_at <= WORLD.now
        assert o["IsClosed"] == ("true" if closed else "false")
        assert o["IsWon"] == ("true" if closed and d.is_won else "false")
        if closed:
            assert o["StageName"] == ("Closed Won" if d.is_won else "Closed Lost")
            assert closes[oid] == sf(d.close_at)
            assert o["CloseDate"] == d.close_at.astimezone(ORG_TZ).date().isoformat()
        else:
            assert oid not in closes
            assert o["StageName"] in ("Qualification", "Proposal/Price Quote")
        assert role_of[oid]["ContactId"] == f"003{d.contact_id:015d}"
        assert role_of[oid]["IsPrimary"] == "true"
    assert any(d.close_at and d.is_won for d in deals) and any(not d.close_at for d in deals)


def test_tasks_time_is_completed_datetime_and_activity_date_is_only_a_date(url: str) -> None:
    rows, _ = read(SalesforceSource(make_settings(url)), "tasks")
    now = WORLD.now
    touched = [c for c in WORLD.contacts if vis(c.first_sales_touch_at, now)
               and (c.merged_at is None or c.first_sales_touch_at <= c.merged_at)]
    assert set(rows) == {f"00T{c.contact_id:015d}" for c in touched}
    moved = 0
    for c in touched:
        t = rows[f"00T{c.contact_id:015d}"]
        assert t["CompletedDateTime"] == sf(c.first_sales_touch_at)
        assert t["ActivityDate"] == c.first_sales_touch_at.astimezone(ORG_TZ).date().isoformat()
        assert t["TaskSubtype"] in ("Call", "Email")
        converted = vis(c.stage_at.get("sql"), now) is not None and (
            c.merged_at is None or c.stage_at["sql"] <= c.merged_at)
        # conversion moves the lead's activities to the new contact
        assert t["WhoId"] == (f"003{c.contact_id:015d}" if converted else lead_id(c.contact_id))
        moved += converted
    assert moved


# --------------------------------------------------------------------------- paging, incremental
def test_pages_follow_next_records_url_with_the_batch_size_header(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url, salesforce_batch_size=SMALL_BATCH))
    rows, batches = read(source, "leads")
    assert len(rows) > 3 * SMALL_BATCH and len(batches) == -(-len(rows) // SMALL_BATCH)
    more = app.requests_to("/queryAll/01g")
    assert len(more) == len(batches) - 1
    assert all(r.headers.get("Sforce-Query-Options") == f"batchSize={SMALL_BATCH}"
               for r in app.requests_to("/queryAll"))
    # every page carries a state, ascending: a stop after any page resumes from it
    cursors = [b.state["cursor"] for b in batches]
    assert cursors == sorted(cursors) and cursors[-1] == max(r["SystemModstamp"] for r in rows.values())
    assert queries(app)[0].endswith("FROM Lead ORDER BY SystemModstamp, Id")


def test_resume_rereads_the_lookback_and_picks_up_changes(url: str, app: SalesforceSandbox) -> None:
    settings = make_settings(url, salesforce_lookback_minutes=10)
    app.as_of = EARLIER
    first, batches = read(SalesforceSource(settings), "leads")
    state = last_state(batches)
    assert state is not None and state["cursor"] == max(r["SystemModstamp"] for r in first.values())
    app.as_of = WORLD.now
    app.log.clear()
    second, _ = read(SalesforceSource(settings), "leads", state)
    saved = datetime.strptime(state["cursor"], "%Y-%m-%dT%H:%M:%S.%f%z")
    bound = (saved - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"WHERE SystemModstamp >= {bound} ORDER BY SystemModstamp, Id" in queries(app)[0]
    assert len(second) < len(first)
    # a lead that moved on after EARLIER comes back with its new status
    changed = [c for c in WORLD.contacts if c.created_at <= EARLIER and c.merged_at is None
               and c.stage_at.get("sql") and EARLIER < c.stage_at["sql"] <= WORLD.now]
    assert changed
    for c in changed:
        assert first[lead_id(c.contact_id)]["Status"] != "Closed - Converted"
        assert second[lead_id(c.contact_id)]["Status"] == "Closed - Converted"
    merged_since = [c for c in WORLD.contacts if c.merged_at and EARLIER < c.merged_at <= WORLD.now]
    for c in merged_since:
        assert second[lead_id(c.contact_id)]["IsDeleted"] == "true"


def test_lead_history_resumes_on_created_date(url: str, app: SalesforceSandbox) -> None:
    settings = make_settings(url)
    app.as_of = EARLIER
    _, batches = read(SalesforceSource(settings), "lead_history")
    app.as_of = WORLD.now
    app.log.clear()
    second, _ = read(SalesforceSource(settings), "lead_history", last_state(batches))
    assert "FROM LeadHistory WHERE CreatedDate >= " in queries(app)[0]
    assert second and all(r["CreatedDate"] >= last_state(batches)["cursor"][:16] for r in second.values())


def test_dead_query_locator_restarts_at_the_last_page(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url, salesforce_batch_size=SMALL_BATCH))
    app.faults.add("invalid_query_locator", path="/queryAll/01g", after=2)
    stream = next(s for s in source.streams if s.name == "leads")
    rows = {r["Id"]: r for b in source.read(stream, None) for r in b.records.to_pylist()}
    assert {(k,) for k in rows} == app.expected_keys("leads")
    assert len([q for q in queries(app) if "FROM Lead " in q]) == 2
    assert "WHERE SystemModstamp >=" in [q for q in queries(app) if "FROM Lead " in q][1]


# --------------------------------------------------------------------------- limits, errors
def test_concurrent_limit_is_retried_but_the_daily_limit_stops(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url))
    app.faults.add("rate_limit", times=2)
    rows, _ = read(source, "users")
    assert rows and source.client.stats["retries"] == 2
    app.faults.add("request_limit", times=10)
    with pytest.raises(RequestLimitExceeded, match="rolling 24 hours") as err:
        read(source, "users")
    assert source.client.stats["retries"] == 2, "the daily limit is not retried"
    assert "api-usage=" in str(err.value)


def test_limit_info_header_is_tracked(url: str, app: SalesforceSandbox) -> None:
    source = SalesforceSource(make_settings(url))
    read(source, "users")
    read(source, "opportunities")
    assert source.client.stats["api_usage"] == app.api_usage == 2
    assert source.client.stats["api_limit"] == 15000


def test_unknown_custom_field_is_fatal_with_salesforce_message(url: str) -> None:
    source = SalesforceSource(make_settings(url, salesforce_utm_campaign_field="UTM_Campaign"))
    with pytest.raises(FatalAPIError, match="(?s)INVALID_FIELD.*No such column 'UTM_Campaign'"):
        read(source, "leads")


def test_sandbox_rejects_soql_outside_the_subset(url: str, app: SalesforceSandbox) -> None:
    token = requests.post(f"{url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH}, timeout=5).json()
    assert set(token) >= {"access_token", "instance_url", "id", "token_type", "issued_at",
                          "signature"} and "expires_in" not in token
    h = {"Authorization": f"Bearer {token['access_token']}"}

    def get(q: str) -> requests.Response:
        return requests.get(f"{url}/services/data/v66.0/query", params={"q": q}, headers=h, timeout=5)

    ok = get("SELECT Id, Amount, IsWon FROM Opportunity ORDER BY Id LIMIT 1")
    rec = ok.json()["records"][0]
    assert ok.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert rec["attributes"]["type"] == "Opportunity" and isinstance(rec["IsWon"], bool)
    assert isinstance(rec["Amount"], float)
    assert get("SELECT Id FROM Lead WHERE SystemModstamp >= '2026-01-01'").json()[0]["errorCode"] == "INVALID_FIELD"
    assert get("SELECT Id FROM Lead WHERE SystemModstamp >= 2026-01-01T00:00:00.000Z").status_code == 400
    assert get("SELECT Id FROM Widget__c").json()[0]["errorCode"] == "INVALID_TYPE"
    assert get("SELECT FROM Lead").json()[0]["errorCode"] in ("MALFORMED_QUERY", "INVALID_FIELD")
    expired = requests.get(f"{url}/services/data/v66.0/query", params={"q": "SELECT Id FROM User"},
                           headers={"Authorization": "Bearer stale"}, timeout=5)
    assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_spec() -> None:
    assert SPEC.name == "salesforce" and SPEC.refreshes_auth and SPEC.secret_env == SECRET_ENV
    env = SANDBOX.env("http://127.0.0.1:1", "tok", WORLD)
    assert env[SECRET_ENV] == "tok" and env["REVOPS_SALESFORCE_LOGIN_URL"] == "http://127.0.0.1:1"


# --------------------------------------------------------------------------- delete log
def test_removed_campaign_member_comes_from_the_delete_log(
    server: tuple[_CurrentApp, str], caplog: pytest.LogCaptureFixture
) -> None:
    """CampaignMember is hard-deleted: a response removed from a live person after the first run
    is gone from queryAll, and the next run reads it from sObject Get Deleted as an IsDeleted
    row (its deletion time as SystemModstamp, nothing else); a run after the log's 15 days
    warns and restarts the log's cursor."""
    world = World(WorldConfig(days=23))  # its own world: the module's WORLD stays untouched
    touch = next(t for t in world.touches
                 if t.at < EARLIER - timedelta(days=1)
                 and t.at > world.contact_by_id[t.contact_id].created_at
                 and world.contact_by_id[t.contact_id].merged_into is None
                 and not world.contact_by_id[t.contact_id].absorbed
                 and world.contact_by_id[t.contact_id].deleted_at is None)
    removed_at = EARLIER + timedelta(days=1, minutes=7, seconds=30)
    world.removed_touches[touch.touch_id] = removed_at
    member = f"00v{touch.touch_id:015d}"
    app = SalesforceSandbox(world, token=REFRESH, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            min_batch_size=SMALL_BATCH, as_of=EARLIER)
    server[0].app = app
    settings = make_settings(server[1], salesforce_lookback_minutes=10)

    first, batches = read(SalesforceSource(settings), "campaign_members")
    state = last_state(batches)
    assert first[member]["IsDeleted"] == "false" and first[member]["HasResponded"] == "true"
    # a first run only starts the log's cursor: it asks the log nothing
    assert state == {"cursor": max(r["SystemModstamp"] for r in first.values()),
                     "deleted_cursor": max(r["SystemModstamp"] for r in first.values())}
    assert not [r for r in app.log if "/deleted/" in r.path]

    app.as_of = WORLD.now
    second, batches = read(SalesforceSource(settings), "campaign_members", state)
    assert second[member] == {**{k: None for k in first[member]}, "Id": member,
                              "IsDeleted": "true", "SystemModstamp": sf(removed_at)}
    asked = [r for r in app.log if "/deleted/" in r.path]
    assert len(asked) == 1 and asked[0].path.endswith("/sobjects/CampaignMember/deleted/")
    since = datetime.strptime(state["deleted_cursor"], "%Y-%m-%dT%H:%M:%S.%f%z") - timedelta(minutes=10)
    assert asked[0].args["start"] == since.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    new_state = last_state(batches)
    # what Salesforce covered (to the minute, up to its clock), never our wall clock
    assert new_state["deleted_cursor"] == sf(WORLD.now.replace(second=0, microsecond=0))
    # the live read no longer has it: only the delete log knows
    assert all(r["IsDeleted"] == "true" for r in second.values() if r["Id"] == member)

    app.as_of = WORLD.now + timedelta(days=20)  # the log keeps 15 days
    with caplog.at_level(logging.WARNING, logger="revops.sources.salesforce.streams"):
        _, batches = read(SalesforceSource(settings), "campaign_members", new_state)
    assert "no longer in the delete log" in caplog.text and "INVALID_REPLICATION_DATE" in caplog.text
    assert last_state(batches)["deleted_cursor"] == last_state(batches)["cursor"]
