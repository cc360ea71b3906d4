"""HubSpot connector against its sandbox over real HTTP on 127.0.0.1.

The expected values are computed here from the synthetic world directly (never through the
sandbox's own helpers), so a wrong property in either the sandbox or the connector shows up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.hubspot import HubSpotSandbox
from revops.sandbox.world import HUBSPOT_STAGE, Contact, World, WorldConfig
from revops.settings import Settings
from revops.sources.base import Batch
from revops.sources.errors import FatalAPIError
from revops.sources.hubspot import SPEC
from revops.sources.hubspot.client import HubSpotClient
from revops.sources.hubspot import streams
from revops.sources.hubspot.streams import HubSpotSource
from tests.sources import hubspot_ids as ids
from tests.sources.hubspot_ids import MERGED_ID_BASE

SANDBOX = get_sandbox("hubspot")

TOKEN = "pat-na1-test-9f3c2a71-secret"
#: ~330 contacts: more than one 200-page, more than a 300 cap, and three duplicates that exist
#: at EARLIER and are merged before WORLD.now
WORLD = World(WorldConfig(days=23))
EARLIER = WORLD.now - timedelta(days=8)


class _CurrentApp:
    """One server for the module, a fresh sandbox app per test (stopping a server costs 0.5 s)."""

    platform = "hubspot"

    def __init__(self) -> None:
        self.app = HubSpotSandbox(WORLD, token=TOKEN)

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[_CurrentApp, str]]:
    current = _CurrentApp()
    with SandboxServer(current) as running:  # type: ignore[arg-type]
        yield current, running.url


@pytest.fixture
def app(server: tuple[_CurrentApp, str]) -> HubSpotSandbox:
    server[0].app = HubSpotSandbox(WORLD, token=TOKEN)
    return server[0].app


@pytest.fixture
def url(server: tuple[_CurrentApp, str], app: HubSpotSandbox) -> str:
    return server[1]


def make_settings(url: str, token: str | None = TOKEN, **extra: Any) -> Settings:
    kwargs: dict[str, Any] = {"http_max_backoff_seconds": 0.05, "http_max_retries": 3, **extra}
    return Settings(_env_file=None, hubspot_base_url=url, hubspot_access_token=token, **kwargs)


def read(
    source: HubSpotSource, name: str, state: dict | None = None
) -> tuple[list[dict], list[Batch]]:
    stream = next(s for s in source.streams if s.name == name)
    batches = list(source.read(stream, state))
    rows = [r for b in batches for r in b.records.to_pylist()]
    return rows, batches


def last_state(batches: list[Batch]) -> dict | None:
    states = [b.state for b in batches if b.state is not None]
    return states[-1] if states else None


def iso(dt: datetime | None) -> str | None:
    """The world's timestamp as HubSpot shows it (UTC, millis, Z), computed independently."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def merges_of(c: Contact, as_of: datetime) -> list[Contact]:
    return ids.merges_of(WORLD, c, as_of)


def hs_id(world_id: int, as_of: datetime = WORLD.now) -> str:
    """The id HubSpot shows for the person of ``world_id`` at ``as_of`` (a merge mints one)."""
    return ids.hs_id(WORLD, world_id, as_of)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def searches(app: HubSpotSandbox, object_type: str = "contacts") -> list[dict]:
    return [r.body for r in app.requests_to(f"/{object_type}/search")]


def filters_of(body: dict) -> list[dict]:
    return [f for g in body.get("filterGroups", []) for f in g["filters"]]


def visible(t: datetime | None, as_of: datetime) -> datetime | None:
    return t if t is not None and t <= as_of else None


def first_engagement(c: Contact, as_of: datetime) -> datetime | None:
    """What portals show in the hs_first_outreach_date rollup: the first engagement of any kind."""
    times = [a.at for a in WORLD.activities if c.contact_id in a.contact_ids and a.at <= as_of]
    return min(times, default=None)


def expected_contact(c: Contact, as_of: datetime) -> dict[str, str | None]:
    stages = {"subscriber": visible(c.subscriber_at, as_of)}
    for stage in ("lead", "mql", "sql", "opportunity", "customer"):
        stages[stage] = visible(c.stage_at.get(stage), as_of)
    latest = [s for s, t in stages.items() if t is not None][-1]
    rejected = visible(c.rejected_at, as_of)
    # the status and when it took that value (its property history's latest version)
    if rejected:
        status, status_at = "UNQUALIFIED", rejected
    elif visible(c.first_sales_touch_at, as_of):
        status, status_at = "IN_PROGRESS", c.first_sales_touch_at
    else:
        status, status_at = ("OPEN", stages["mql"]) if stages["mql"] else ("NEW", c.created_at)
    dups = merges_of(c, as_of)
    merged = sorted({c.contact_id, *(d.contact_id for d in dups),
                     *(int(ids.hs_id(WORLD, c.contact_id, d.merged_at)) for d in dups[:-1])}
                    ) if dups else []
    out = {
        "lifecyclestage": HUBSPOT_STAGE[latest],
        "hs_lead_status": status,
        "hs_lead_status_set_at": iso(status_at),
        "lead_rejection_reason": c.rejection_reason if rejected else None,
        "lead_rejected_date": iso(rejected),
        "hs_merged_object_ids": ";".join(map(str, merged)) or None,
        "hs_additional_emails": ";".join(d.email for d in dups) or None,
        "createdate": iso(c.created_at),
        "utm_campaign": c.utm_campaign,
        "hs_first_outreach_date": iso(first_engagement(c, as_of)),
    }
    for stage, name in HUBSPOT_STAGE.items():
        out[f"hs_v2_date_entered_{name}"] = iso(stages[stage])
    return out


# --------------------------------------------------------------------------- full reads
@pytest.mark.parametrize("clock", [WORLD.now, EARLIER], ids=["now", "earlier"])
def test_full_contact_read_equals_the_world_at_the_clock(
    url: str, app: HubSpotSandbox, clock: datetime
) -> None:
    app.as_of = clock
    every, batches = read(HubSpotSource(make_settings(url)), "contacts")
    rows = [r for r in every if not r["archived"]]
    by_id = {r["id"]: r for r in rows}
    world = {hs_id(c.contact_id, clock): c for c in WORLD.contacts_as_of(clock)}
    assert len(rows) == len(by_id) == len(world)
    assert set(by_id) == set(world)
    # deleted contacts come from the recycle bin (archived=true), never from search
    deleted = {str(c.contact_id) for c in WORLD.contacts
               if c.deleted_at and c.deleted_at <= clock and c.created_at <= clock}
    assert {r["id"] for r in every if r["archived"]} == deleted
    assert {k[0] for k in app.expected_keys("contacts")} == set(world) | deleted
    for cid, c in world.items():
        want = expected_contact(c, clock)
        got = {k: by_id[cid][k] for k in want}
        assert got == want, cid
    # the funnel is really represented, not all-null
    for prop in ("hs_v2_date_entered_salesqualifiedlead", "lead_rejection_reason",
                 "hs_merged_object_ids"):
        assert any(r[prop] for r in rows), prop
    assert {r["hs_lead_status"] for r in rows} == {"NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED"}
    # the status history comes from the v3 batch read, at most 50 records per request
    reads = [r.body for r in app.requests_to("/contacts/batch/read")]
    assert reads and all(len(b["inputs"]) <= 50 for b in reads)
    assert all(b["propertiesWithHistory"] == ["hs_lead_status"] for b in reads)
    assert sum(len(b["inputs"]) for b in reads) == len(rows)
    # merged-away duplicates and the survivors' old ids no longer exist: a merge mints a new id
    gone = {str(c.contact_id) for c in WORLD.contacts if c.merged_at and c.merged_at <= clock}
    gone |= {str(c.merged_into) for c in WORLD.contacts if c.merged_at and c.merged_at <= clock}
    assert gone and not gone & set(by_id)
    assert any(int(i) > MERGED_ID_BASE for i in by_id)
    assert all(r["lastmodifieddate"] <= iso(clock) for r in rows)
    assert last_state(batches)["cursor"] == max(r["lastmodifieddate"] for r in rows)


def test_contact_values_are_strings_and_nulls(url: str) -> None:
    every, _ = read(HubSpotSource(make_settings(url)), "contacts")
    rows = [r for r in every if r["archivedAt"] is None]
    assert len(every) > len(rows), "the world must delete a contact"
    for row in rows:
        for key, value in row.items():
            assert value is None or isinstance(value, str) or key == "archived", (key, value)
        assert row["archived"] is False
        assert row["updatedAt"] == row["lastmodifieddate"]
    organic = next(r for r in rows if r["utm_campaign"] is None)
    assert organic["hs_analytics_source"] == "DIRECT_TRAFFIC"
    assert organic["hs_analytics_source_data_2"] is None
    paid = next(r for r in rows if r["utm_campaign"] is not None)
    assert paid["hs_analytics_source"] == "PAID_SOCIAL"
    assert paid["hs_analytics_source_data_1"] == "Facebook"
    assert paid["hs_analytics_source_data_2"] == paid["utm_campaign"]


def test_deals_carry_their_associated_contacts(url: str, app: HubSpotSandbox) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), "deals")
    by_id = {r["id"]: r for r in rows}
    deals = WORLD.deals_as_of(WORLD.now)
    assert set(by_id) == {str(d.deal_id) for d in deals}
    assert set(by_id) == {k[0] for k in app.expected_keys("deals")}
    for d in deals:
        row = by_id[str(d.deal_id)]
        closed = d.close_at is not None and d.close_at <= WORLD.now
        assert row["associated_contact_ids"] == hs_id(d.contact_id)
        assert row["amount"] == str(d.amount)
        assert row["hs_is_closed"] == ("true" if closed else "false")
        assert row["hs_is_closed_won"] == ("true" if closed and d.is_won else "false")
        assert row["closedate"] == (iso(d.close_at) if closed else None)
        assert row["dealstage"] == d.stage_as_of(WORLD.now)
        assert row["pipeline"] == "default"
    assert len(app.requests_to("/crm/v4/associations/deals/contacts/batch/read")) >= 1
    assert last_state(batches) == {"cursor": max(r["hs_lastmodifieddate"] for r in rows)}


def test_association_results_are_paged_per_deal(url: str, app: HubSpotSandbox) -> None:
    deal = WORLD.deals_as_of(WORLD.now)[0]
    others = [c.contact_id for c in WORLD.contacts_as_of(WORLD.now)
              if c.contact_id != deal.contact_id][:2]
    app.extra_deal_contacts = {deal.deal_id: others}
    app.association_page_size = 1
    rows, _ = read(HubSpotSource(make_settings(url)), "deals")
    row = next(r for r in rows if r["id"] == str(deal.deal_id))
    assert row["associated_contact_ids"] == ";".join(hs_id(i) for i in [deal.contact_id, *others])
    followups = [r.body for r in app.requests_to("/batch/read")
                 if any("after" in i for i in r.body["inputs"])]
    assert followups == [{"inputs": [{"id": str(deal.deal_id), "after": "1"}]},
                         {"inputs": [{"id": str(deal.deal_id), "after": "2"}]}]


class _InFlight(HubSpotClient):
    """The real client, counting the requests it has on the wire at once (each held 10 ms, so
    that requests sent side by side overlap)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def transport(self, *args: Any, **kwargs: Any) -> requests.Response:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(0.01)
            return super().transport(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize(("stream", "page_size"), [("contacts", 100), ("deals", 10)])
def test_a_pages_reads_go_side_by_side(url: str, app: HubSpotSandbox, stream: str, page_size: int,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The next page's search and a page's history (contacts: two requests of 50 a page) or
    association (deals) reads are sent at once, ``PAGE_READS`` at a time; one at a time they
    give the same rows and states."""
    got = {}
    for page_reads in (streams.PAGE_READS, 1):
        monkeypatch.setattr(streams, "PAGE_READS", page_reads)
        client = _InFlight(url, TOKEN, max_backoff=0.05)
        rows, batches = read(HubSpotSource(make_settings(url), client=client, page_size=page_size), stream)
        got[page_reads] = (client.peak, sorted(rows, key=lambda r: r["id"]), [b.state for b in batches])
    (peak, rows, states), (one_peak, one_rows, one_states) = got.values()
    assert one_peak == 1 and peak > 1
    assert rows == one_rows and states == one_states
    assert len(rows) == len(app.expected_keys(stream))


def test_owners(url: str) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), "owners")
    assert {r["id"] for r in rows} == {o.owner_id for o in WORLD.owners}
    dana = next(r for r in rows if r["firstName"] == "Dana")
    assert dana["userId"] == 9100
    assert json.loads(dana["teams"])[0]["name"] == "SDR East"
    assert all(b.state is None for b in batches)


# --------------------------------------------------------------------------- paging and the cap
def test_search_pages_past_200_without_duplicates(url: str, app: HubSpotSandbox) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), "contacts")
    ids = [r["id"] for r in rows]
    assert len(ids) > 200 and len(ids) == len(set(ids))
    pages = [b for b in searches(app) if b["sorts"][0]["propertyName"] == "hs_object_id"]
    # keyset paging: every page is offset 0, each next one asks for ids above the previous' last
    expected_pages = -(-len(ids) // 200)
    assert expected_pages >= 2
    assert [p["after"] for p in pages] == ["0"] * expected_pages
    gt = [f for f in pages[1]["filterGroups"][0]["filters"] if f["propertyName"] == "hs_object_id"]
    assert gt == [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[199]}]
    assert all(p["limit"] <= 200 for p in searches(app))
    # one batch per page, then one for the recycle bin
    assert len(batches) == expected_pages + 1 and batches[-1].meta == {"archived": True}


@pytest.mark.timeout(15)  # a read that restarts from the same place would loop forever
def test_cap_restarts_above_the_last_id_when_a_bulk_edit_shares_one_timestamp(
    url: str, app: HubSpotSandbox
) -> None:
    app.search_cap = 300
    app.bulk_edit_at = WORLD.now - timedelta(hours=1)
    source = HubSpotSource(make_settings(url), search_cap=300)
    rows, batches = read(source, "contacts")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(app.expected_keys("contacts")) > 300
    assert set(ids) == {k[0] for k in app.expected_keys("contacts")}
    stamped = [r for r in rows if r["lastmodifieddate"] == iso(app.bulk_edit_at)]
    assert len(stamped) > 300  # more records share one timestamp than one query can return
    restarts = [
        f for b in searches(app) for f in filters_of(b)
        if f["propertyName"] == "hs_object_id" and f["operator"] == "GT"
    ]
    assert restarts, "the read must restart with hs_object_id GT <last id>"
    assert all(int(b["after"]) + b["limit"] <= 300 for b in searches(app))
    live = [r for r in rows if not r["archived"]]
    assert last_state(batches)["cursor"] == max(r["lastmodifieddate"] for r in live)


def test_sandbox_enforces_its_cap(url: str, app: HubSpotSandbox) -> None:
    """Offset paging past the cap is refused (HTTP 400), as HubSpot does: the cap is real, and
    the connector's keyset paging never asks for an offset."""
    import requests

    app.search_cap = 300
    body = {"filterGroups": [], "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["email"], "limit": 200, "after": "200"}
    resp = requests.post(f"{url}/crm/v3/objects/contacts/search", json=body,
                         headers={"Authorization": f"Bearer {app.token}"}, timeout=10)
    assert resp.status_code == 400
    body["after"] = "100"
    ok = requests.post(f"{url}/crm/v3/objects/contacts/search", json=body,
                       headers={"Authorization": f"Bearer {app.token}"}, timeout=10)
    assert ok.status_code == 200
    before = len(searches(app))
    read(HubSpotSource(make_settings(url)), "contacts")  # the connector is not affected
    assert all(b["after"] == "0" for b in searches(app)[before:])


def test_windows_checkpoint_the_cursor(url: str, app: HubSpotSandbox) -> None:
    """A state is only safe once every record at or below its cursor has been yielded: pages
    are in id order, so that holds at the end of a time window, not in the middle of one."""
    source = HubSpotSource(make_settings(url), window=timedelta(days=5), page_size=40)
    every, batches = read(source, "contacts")
    rows = [r for r in every if not r["archived"]]
    batches = [b for b in batches if not b.meta.get("archived")]
    states = [b.state["cursor"] for b in batches if b.state]
    assert len(states) >= 4 and states == sorted(states)
    assert states[-1] == max(r["lastmodifieddate"] for r in rows)
    assert len(batches) > len(states)  # windows span several pages
    seen: dict[str, str] = {}
    for b in batches:
        seen |= {r["id"]: r["lastmodifieddate"] for r in b.records.to_pylist()}
        if b.state:
            assert b.state["cursor"] == max(seen.values())
            below = {r["id"] for r in rows if r["lastmodifieddate"] <= b.state["cursor"]}
            assert below <= set(seen), "a resume from this state would skip records"
    bounded = [b for b in searches(app) if any(f["operator"] == "LT" for f in filters_of(b))]
    assert bounded
    assert len({r["id"] for r in every}) == len(app.expected_keys("contacts"))


# --------------------------------------------------------------------------- incremental
def test_incremental_resume_picks_up_changes_and_merges(url: str, app: HubSpotSandbox) -> None:
    settings = make_settings(url, hubspot_lookback_minutes=30)
    app.as_of = EARLIER
    first, b1 = read(HubSpotSource(settings), "contacts")
    state = last_state(b1)
    assert state and state["cursor"] <= iso(EARLIER)
    assert state["cursor"] == max(r["lastmodifieddate"] for r in first)

    app.as_of = WORLD.now
    app.log.clear()
    second, _ = read(HubSpotSource(settings), "contacts", state)
    full, _ = read(HubSpotSource(settings), "contacts")

    lo = [f for f in filters_of(searches(app)[0]) if f["operator"] == "GTE"]
    assert lo == [{"propertyName": "lastmodifieddate", "operator": "GTE",
                   "value": str(ms(state["cursor"]) - 30 * 60_000)}]
    assert 0 < len(second) < len(full) / 2

    merged: dict[str, dict] = {r["id"]: r for r in first}
    merged.update({r["id"]: r for r in second})
    gone = {i for r in merged.values() if r["hs_merged_object_ids"]
            for i in r["hs_merged_object_ids"].split(";")}
    resolved = {k: v for k, v in merged.items() if k not in gone}
    assert resolved == {r["id"]: r for r in full}

    between = [c for c in WORLD.contacts if c.merged_at and EARLIER < c.merged_at <= WORLD.now]
    assert between, "the world must merge a contact between the two runs"
    assert any(c.created_at <= EARLIER for c in between), "one must exist at the first run"
    for loser in between:
        assert (str(loser.contact_id) in {r["id"] for r in first}) == (loser.created_at <= EARLIER)
        survivor = next(r for r in second if r["id"] == hs_id(loser.contact_id))
        assert survivor["id"] != str(loser.merged_into), "a merge mints a new id"
        assert {str(loser.contact_id), str(loser.merged_into)} <= set(
            survivor["hs_merged_object_ids"].split(";"))


def test_incremental_deals(url: str, app: HubSpotSandbox) -> None:
    settings = make_settings(url)
    app.as_of = EARLIER
    first, b1 = read(HubSpotSource(settings), "deals")
    app.as_of = WORLD.now
    second, _ = read(HubSpotSource(settings), "deals", last_state(b1))
    full, _ = read(HubSpotSource(settings), "deals")
    merged = {r["id"]: r for r in first} | {r["id"]: r for r in second}
    assert merged == {r["id"]: r for r in full}
    assert len(second) < len(full)


def test_nothing_new_yields_nothing_and_keeps_state(url: str) -> None:
    source = HubSpotSource(make_settings(url, hubspot_lookback_minutes=0))
    _, b1 = read(source, "contacts")
    state = last_state(b1)
    assert state and state["archived_cursor"] <= state["cursor"]
    far = {"cursor": "2030-01-01T00:00:00.000Z", "archived_cursor": "2030-01-01T00:00:00.000Z"}
    rows, batches = read(source, "contacts", far)
    assert rows == [] and last_state(batches) is None
    rows, _ = read(source, "contacts", state)  # the newest records are re-read (>=), no more
    assert 0 < len(rows) < 5


# --------------------------------------------------------------------------- faults
def test_rate_limit_is_retried_after_retry_after(url: str, app: HubSpotSandbox, caplog) -> None:
    app.faults.add("rate_limit", times=2, path="/contacts/search")
    # a long backoff cap: the waits are HubSpot's Retry-After: 0, not exponential (>= 0.5 s each).
    # The waits the client chose are asserted, not the wall time (a loaded CI machine took 1.5 s)
    source = HubSpotSource(make_settings(url, http_max_backoff_seconds=30))
    with caplog.at_level(logging.WARNING, logger="revops.sources.http"):
        rows, _ = read(source, "contacts")
    waits = [r.args[-1] for r in caplog.records if r.name == "revops.sources.http" and "retry" in r.msg]
    assert waits == [0.0, 0.0]
    assert len(rows) == len(app.expected_keys("contacts"))
    assert source.client.stats["retries"] == 2


def test_daily_limit_is_fatal(url: str, app: HubSpotSandbox) -> None:
    app.faults.add("rate_limit_daily", path="/contacts/search")
    with pytest.raises(FatalAPIError, match="daily"):
        read(HubSpotSource(make_settings(url)), "contacts")


@pytest.mark.parametrize("kind", ["server_error", "bad_gateway"])
def test_server_errors_are_retried(url: str, app: HubSpotSandbox, kind: str) -> None:
    app.faults.add(kind, times=2, path="/deals/search")
    source = HubSpotSource(make_settings(url))
    rows, _ = read(source, "deals")
    assert {r["id"] for r in rows} == {k[0] for k in app.expected_keys("deals")}
    assert source.client.stats["retries"] == 2


def test_truncated_body_is_retried(url: str, app: HubSpotSandbox) -> None:
    app.faults.add("truncated", path="/contacts/search")
    source = HubSpotSource(make_settings(url))
    rows, _ = read(source, "contacts")
    assert len(rows) == len(app.expected_keys("contacts"))
    assert source.client.stats["retries"] == 1


def test_expired_token_is_fatal_and_names_the_variable(url: str, app: HubSpotSandbox) -> None:
    app.faults.add("expired_token")
    with pytest.raises(FatalAPIError) as err:
        read(HubSpotSource(make_settings(url)), "contacts")
    message = str(err.value)
    assert "REVOPS_HUBSPOT_ACCESS_TOKEN" in message and "expired" in message
    assert TOKEN not in message


def test_wrong_token_is_fatal(url: str) -> None:
    with pytest.raises(FatalAPIError) as err:
        read(HubSpotSource(make_settings(url, token="pat-wrong-token")), "owners")
    assert "invalid" in str(err.value) and "REVOPS_HUBSPOT_ACCESS_TOKEN" in str(err.value)
    assert "pat-wrong-token" not in str(err.value)


def test_missing_token_is_fatal_before_any_request(url: str, app: HubSpotSandbox) -> None:
    with pytest.raises(FatalAPIError, match="REVOPS_HUBSPOT_ACCESS_TOKEN"):
        read(HubSpotSource(make_settings(url, token=None)), "owners")
    assert app.log == []


def test_missing_scope_is_fatal(url: str, app: HubSpotSandbox) -> None:
    app.faults.add("missing_scopes")
    with pytest.raises(FatalAPIError, match="crm.objects.contacts.read"):
        read(HubSpotSource(make_settings(url)), "contacts")


def test_client_slows_down_when_the_window_is_nearly_used(url: str, app: HubSpotSandbox) -> None:
    app.rate_limit_max = 4
    slept: list[float] = []
    client = HubSpotClient(url, TOKEN, max_backoff=0.05, sleep=slept.append)
    rows, _ = read(HubSpotSource(make_settings(url), client=client), "contacts")
    assert len(rows) == len(app.expected_keys("contacts"))
    assert slept and all(s == 0.05 for s in slept)  # Interval 10 s, capped by max_backoff
    assert client.stats["throttled"] == len(slept)


def test_every_thread_waits_out_the_window(url: str) -> None:
    """The streams and a page's reads share the client: when the window is nearly used, no
    thread sends before it has passed; one of them waits and the others queue behind it."""
    client = HubSpotClient(url, TOKEN, max_backoff=5)
    client._observe_rate_headers(requests.Response())  # no headers: nothing to wait for
    assert client._resume_at == 0.0
    low = requests.Response()
    low.headers.update({"X-HubSpot-RateLimit-Remaining": "1", "X-HubSpot-RateLimit-Interval-Milliseconds": "400"})
    client._observe_rate_headers(low)
    resume_at = client._resume_at
    sent: list[float] = []

    def owners() -> None:
        client.get_json("/crm/v3/owners", params={"limit": 1})
        sent.append(time.monotonic())

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: owners(), range(4)))
    assert len(sent) == 4 and min(sent) >= resume_at
    assert client.stats["throttled"] == 1 and client.stats["requests"] == 4


# --------------------------------------------------------------------------- sandbox wire format
def _post(url: str, path: str, body: dict, token: str = TOKEN) -> requests.Response:
    auth = {"Authorization": f"Bearer {token}"}
    return requests.post(url + path, json=body, headers=auth, timeout=10)


def test_sandbox_serves_the_date_versioned_prefix(url: str) -> None:
    body = {"limit": 5, "properties": ["email", "lifecyclestage"], "after": "0"}
    v3 = _post(url, "/crm/v3/objects/contacts/search", body)
    dated = _post(url, "/crm/objects/2026-03/contacts/search", body)
    assert v3.status_code == dated.status_code == 200
    page = v3.json()
    assert page["paging"]["next"].pop("link") and dated.json()["paging"]["next"].pop("link")
    assert {**page, "paging": None} == {**dated.json(), "paging": None}
    assert page["paging"]["next"]["after"] == "5"
    first = page["results"][0]
    assert set(first) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert first["properties"]["hs_object_id"] == first["id"]
    assert int(v3.headers["X-HubSpot-RateLimit-Interval-Milliseconds"]) == 10_000


def test_sandbox_search_filters_and_errors(url: str) -> None:
    ids = sorted(c.contact_id for c in WORLD.contacts_as_of(WORLD.now))
    a, b = ids[10], ids[20]
    either = {"filterGroups": [
        {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": str(a)}]},
        {"filters": [{"propertyName": "hs_object_id", "operator": "BETWEEN",
                      "value": str(b), "highValue": str(b + 1)}]},
    ], "limit": 10}
    got = _post(url, "/crm/v3/objects/contacts/search", either).json()
    assert [r["id"] for r in got["results"]] == [str(i) for i in ids if i == a or b <= i <= b + 1]
    assert "paging" not in got
    too_big = _post(url, "/crm/v3/objects/contacts/search", {"limit": 201})
    assert too_big.status_code == 400 and too_big.json()["category"] == "VALIDATION_ERROR"
    bad = _post(url, "/crm/v3/objects/contacts/search", {"limit": 1}, token="nope")
    assert bad.status_code == 401 and bad.json()["category"] == "INVALID_AUTHENTICATION"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    pipelines = requests.get(url + "/crm/v3/pipelines/deals", headers=auth, timeout=10).json()
    won = next(s for s in pipelines["results"][0]["stages"] if s["id"] == "closedwon")
    assert won["metadata"] == {"isClosed": "true", "probability": "1.0"}


def test_spec() -> None:
    assert SPEC.name == "hubspot" and SPEC.secret_env == "REVOPS_HUBSPOT_ACCESS_TOKEN"
    env = SANDBOX.env("http://127.0.0.1:1", "tok", WORLD)
    assert env == {
        "REVOPS_HUBSPOT_BASE_URL": "http://127.0.0.1:1",
        "REVOPS_HUBSPOT_ACCESS_TOKEN": "tok",
    }
    assert SPEC.configured(make_settings("http://x"))
    assert not SPEC.configured(make_settings("http://x", token=None))
    source = SPEC.build(make_settings("http://x", token=None))  # building never needs the token
    assert [s.name for s in source.streams] == [
        "owners", "contacts", "form_submissions", "deals", "companies", "calls", "emails",
        "meetings", "deal_pipelines"]
    assert isinstance(SANDBOX.app(WORLD, token="t"), HubSpotSandbox)


# --------------------------------------------------------------------------- engagements
KIND_DIRECTION = {"calls": "hs_call_direction", "emails": "hs_email_direction"}
TYPE_ID = {"calls": 194, "emails": 198, "meetings": 200}


@pytest.mark.parametrize("kind", ["calls", "emails", "meetings"])
def test_engagements_equal_the_world_with_their_contacts(
    url: str, app: HubSpotSandbox, kind: str
) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), kind)
    by_id = {r["id"]: r for r in rows}
    want = {str(a.activity_id): a for a in WORLD.activities
            if a.kind == kind and a.at <= WORLD.now}
    assert want and set(by_id) == set(want) == {k[0] for k in app.expected_keys(kind)}
    for aid, a in want.items():
        row = by_id[aid]
        assert row["hs_timestamp"] == iso(a.at)
        assert row["hubspot_owner_id"] == a.owner_id
        assert row["associated_contact_ids"] == ";".join(hs_id(i) for i in a.contact_ids)
        if kind in KIND_DIRECTION:
            assert row[KIND_DIRECTION[kind]] == a.direction
        else:
            assert row["hs_meeting_start_time"] == iso(a.at)
    assert last_state(batches) == {"cursor": max(r["hs_lastmodifieddate"] for r in rows)}
    calls = app.requests_to(f"/crm/v4/associations/{kind}/contacts/batch/read")
    assert calls and all(len(c.body["inputs"]) <= 100 for c in calls)
    # the association type is the activity -> contact one (194/198/200)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    resp = requests.post(f"{url}/crm/v4/associations/{kind}/contacts/batch/read",
                         json={"inputs": [{"id": next(iter(want))}]}, headers=auth, timeout=10)
    types = resp.json()["results"][0]["to"][0]["associationTypes"]
    assert types == [{"category": "HUBSPOT_DEFINED", "typeId": TYPE_ID[kind], "label": None}]


def test_engagements_include_non_touches_that_come_first(url: str) -> None:
    """An incoming email, a marketing meeting and an unowned meeting, before the touch."""
    source = HubSpotSource(make_settings(url))
    emails, _ = read(source, "emails")
    meetings, _ = read(source, "meetings")
    calls, _ = read(source, "calls")
    assert {r["hs_email_direction"] for r in emails} == {"EMAIL", "INCOMING_EMAIL"}
    assert {r["hs_call_direction"] for r in calls} == {"OUTBOUND"}
    marketing = next(o.owner_id for o in WORLD.owners if o.team == "Marketing")
    assert {r["hubspot_owner_id"] for r in meetings} == {marketing, None}
    touch = {hs_id(c.contact_id): iso(c.first_sales_touch_at) for c in WORLD.contacts_as_of(WORLD.now)
             if c.first_sales_touch_at and c.first_sales_touch_at <= WORLD.now}
    sent = [r for r in calls + emails
            if r.get("hs_call_direction") == "OUTBOUND" or r.get("hs_email_direction") == "EMAIL"]
    first: dict[str, str] = {}
    for r in sent:
        for cid in r["associated_contact_ids"].split(";"):
            first[cid] = min(r["hs_timestamp"], first.get(cid, r["hs_timestamp"]))
    assert first == touch
    earlier = [r for r in emails + meetings
               for cid in (r["associated_contact_ids"] or "").split(";")
               if cid in touch and r["hs_timestamp"] < touch[cid]]
    assert earlier, "some non-touch must precede the first touch"
    # so the rollup is not the first sales touch: core.dim_contact must read the engagements
    contacts, _ = read(source, "contacts")
    rollup = {r["id"]: r["hs_first_outreach_date"] for r in contacts}
    assert any(rollup.get(cid) not in (None, at) for cid, at in touch.items())


def test_engagements_resume_incrementally(url: str, app: HubSpotSandbox) -> None:
    settings = make_settings(url)
    app.as_of = EARLIER
    first, b1 = read(HubSpotSource(settings), "calls")
    app.as_of = WORLD.now
    second, _ = read(HubSpotSource(settings), "calls", last_state(b1))
    full, _ = read(HubSpotSource(settings), "calls")
    assert {r["id"]: r for r in first} | {r["id"]: r for r in second} == {r["id"]: r for r in full}
    assert 0 < len(second) < len(full)


# --------------------------------------------------------------------------- pipelines
def test_deal_pipelines_one_row_per_stage_with_metadata_strings(url: str) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), "deal_pipelines")
    stages = {(r["pipeline_id"], r["stage_id"]): r for r in rows}
    assert len(stages) == len(rows) == 10
    won = stages[("default", "closedwon")]
    assert (won["is_closed"], won["probability"]) == ("true", "1.0")
    assert won["stage_label"] != "Closed Won"  # relabelled: labels say nothing
    assert json.loads(won["metadata"]) == {"isClosed": "true", "probability": "1.0"}
    assert stages[("87654321", "87654323")]["probability"] == "1.0"
    assert all(b.state is None for b in batches)


# --------------------------------------------------------------------------- deletes
def test_a_deal_deleted_between_runs_comes_back_archived(url: str, app: HubSpotSandbox) -> None:
    world = World(WorldConfig(days=23))
    gone = next(d for d in world.deals if d.created_at < EARLIER and d.deleted_at is None)
    gone.deleted_at = EARLIER + timedelta(hours=5)
    # deleted 11 minutes earlier: outside the 10-minute lookback of the next run
    before = next(d for d in world.deals if d.created_at < EARLIER and d.deleted_at is None)
    before.deleted_at = gone.deleted_at - timedelta(minutes=11)
    app.world = world
    settings = make_settings(url)
    app.as_of = EARLIER
    first, b1 = read(HubSpotSource(settings), "deals")
    assert next(r for r in first if r["id"] == str(gone.deal_id))["archived"] is False
    app.as_of = WORLD.now
    app.log.clear()
    second, b2 = read(HubSpotSource(settings), "deals", last_state(b1))
    row = next(r for r in second if r["id"] == str(gone.deal_id))
    assert row["archived"] is True and row["archivedAt"] == iso(gone.deleted_at)
    assert row["associated_contact_ids"] is None
    assert last_state(b2)["archived_cursor"] == iso(gone.deleted_at)
    listed = [r for r in app.requests_to("/crm/v3/objects/deals") if r.method == "GET"]
    assert listed and all(r.args["archived"] == "true" for r in listed)
    # search no longer knows it
    resp = _post(url, "/crm/v3/objects/deals/search", {"limit": 200, "filterGroups": [{"filters": [
        {"propertyName": "hs_object_id", "operator": "EQ", "value": str(gone.deal_id)}]}]})
    assert resp.json()["results"] == []
    assert str(before.deal_id) in {r["id"] for r in second if r["archived"]}
    # a third run re-reads only what lies within the lookback behind archived_cursor (>=)
    third, _ = read(HubSpotSource(settings), "deals", last_state(b2))
    assert [r["id"] for r in third if r["archived"]] == [str(gone.deal_id)]


# --------------------------------------------------------------------------- merges mint ids
def _get(url: str, path: str, **params: Any) -> requests.Response:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    return requests.get(url + path, params=params, headers=auth, timeout=10)


def test_an_old_id_answers_with_the_merged_record_under_its_new_id(url: str) -> None:
    loser = next(c for c in WORLD.contacts if c.merged_at and c.merged_at <= WORLD.now)
    survivor = WORLD.contact_by_id[loser.merged_into]
    new = hs_id(survivor.contact_id)
    assert new != str(survivor.contact_id)
    for old in (survivor.contact_id, loser.contact_id, int(new)):
        for prefix in ("/crm/v3/objects", "/crm/objects/2026-03"):
            resp = _get(url, f"{prefix}/contacts/{old}",
                        properties="email,hs_merged_object_ids,hs_additional_emails")
            assert resp.status_code == 200, (old, resp.text)
            body = resp.json()
            assert body["id"] == new and body["properties"]["hs_object_id"] == new
            merged = body["properties"]["hs_merged_object_ids"].split(";")
            assert {str(survivor.contact_id), str(loser.contact_id)} <= set(merged)
            assert body["properties"]["email"] == survivor.email
            assert loser.email in body["properties"]["hs_additional_emails"].split(";")
    # before the merge the survivor answers under its own id, and the duplicate is itself
    app_clock = loser.merged_at - timedelta(seconds=1)
    app = HubSpotSandbox(WORLD, token=TOKEN, as_of=app_clock)
    assert app.current_id_of(str(loser.contact_id)) == str(loser.contact_id)
    assert app.current_id_of(new) is None, "a merged id that does not exist yet"
    assert _get(url, "/crm/v3/objects/contacts/99999999").status_code == 404
    gone = next(c for c in WORLD.contacts if c.deleted_at and c.deleted_at <= WORLD.now)
    assert _get(url, f"/crm/v3/objects/contacts/{gone.contact_id}").status_code == 404


def test_merged_ids_stay_out_of_the_recycle_bin(url: str, app: HubSpotSandbox) -> None:
    """Sources disagree on whether merged-away ids are listed by ``archived=true``; the sandbox
    does not list them (README): merges are read from hs_merged_object_ids."""
    rows, _ = read(HubSpotSource(make_settings(url)), "contacts")
    archived = {r["id"] for r in rows if r["archived"]}
    retired = {str(c.contact_id) for c in WORLD.contacts if c.merged_at and c.merged_at <= WORLD.now}
    retired |= {str(c.merged_into) for c in WORLD.contacts if c.merged_at and c.merged_at <= WORLD.now}
    assert archived and not archived & retired


# --------------------------------------------------------------------------- form submissions
def epoch(dt: datetime) -> int:
    """Exact epoch milliseconds (float timestamps can be 1 ms off)."""
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _touches(as_of: datetime) -> list:
    return [t for t in WORLD.touches if t.at <= as_of]


def test_form_submissions_equal_the_worlds_touches(url: str, app: HubSpotSandbox) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), "form_submissions")
    want = _touches(WORLD.now)
    assert len(rows) == len({r["conversionId"] for r in rows}) == len(want)
    got = sorted((r["email"], r["submittedAt"], r["utm_campaign"], r["formName"]) for r in rows)
    assert got == sorted(
        (WORLD.contact_by_id[t.contact_id].email, epoch(t.at), t.utm_campaign,
         f"{t.campaign.name} - landing page form")
        for t in want)
    one = rows[0]
    assert set(json.loads(one["values"])[0]) == {"name", "value", "objectTypeId"}
    assert "utm_campaign=" in one["pageUrl"]
    assert last_state(batches) == {"cursor": iso(max(t.at for t in want))}
    # forms are listed once; every submissions page asks for the maximum of 50
    assert len(app.requests_to("/marketing/v3/forms")) == 1
    pages = app.requests_to("/form-integrations/v1/submissions/forms/")
    assert pages and all(p.args["limit"] == "50" for p in pages)
    assert any("after" in p.args for p in pages), "some form has more than one page"


def test_form_submissions_come_in_bounded_batches(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A form's history is cut into batches of at most SUBMISSIONS_BATCH_ROWS (memory bounded by
    the batch, not the world), the same rows, the state on the last batch only."""
    whole, _ = read(HubSpotSource(make_settings(url)), "form_submissions")
    monkeypatch.setattr(streams, "SUBMISSIONS_BATCH_ROWS", 7)
    rows, batches = read(HubSpotSource(make_settings(url)), "form_submissions")
    assert sorted(r["conversionId"] for r in rows) == sorted(r["conversionId"] for r in whole)
    # a batch is cut at the first page boundary with 7 rows held: here, after every page of 50
    assert all(b.records.num_rows <= 50 for b in batches)
    forms = {b.meta["form"] for b in batches}
    assert len(batches) > len(forms), "some form's submissions span more than one batch"
    assert [b.state is not None for b in batches] == [False] * (len(batches) - 1) + [True]


def test_submissions_wire_format_newest_first_and_limits(url: str) -> None:
    forms = _get(url, "/marketing/v3/forms", limit=2).json()
    assert len(forms["results"]) == 2 and forms["paging"]["next"]["after"] == "2"
    guid = forms["results"][0]["id"]
    page = _get(url, f"/form-integrations/v1/submissions/forms/{guid}", limit=5).json()
    stamps = [s["submittedAt"] for s in page["results"]]
    assert stamps == sorted(stamps, reverse=True) and all(isinstance(s, int) for s in stamps)
    assert set(page["results"][0]) == {"conversionId", "submittedAt", "values", "pageUrl"}
    assert _get(url, f"/form-integrations/v1/submissions/forms/{guid}", limit=51).status_code == 400
    assert _get(url, "/form-integrations/v1/submissions/forms/nope").status_code == 404


def test_form_submissions_resume_stops_at_the_saved_cursor(url: str, app: HubSpotSandbox) -> None:
    settings = make_settings(url)
    app.as_of = EARLIER
    first, b1 = read(HubSpotSource(settings), "form_submissions")
    app.as_of = WORLD.now
    app.log.clear()
    second, _ = read(HubSpotSource(settings), "form_submissions", last_state(b1))
    resumed_pages = len(app.requests_to("/form-integrations/"))
    app.log.clear()
    full, _ = read(HubSpotSource(settings), "form_submissions")
    assert len(app.requests_to("/form-integrations/")) > resumed_pages
    merged = {r["conversionId"]: r for r in first} | {r["conversionId"]: r for r in second}
    assert merged == {r["conversionId"]: r for r in full}
    cut = epoch(datetime.fromisoformat(last_state(b1)["cursor"])) - 10 * 60_000
    assert second and all(r["submittedAt"] >= cut for r in second)
    assert len(second) < len(full)


# --------------------------------------------------------------------------- companies
COMPANY_ID_BASE = ids.COMPANY_ID_BASE


def expected_companies(world: World, as_of: datetime) -> dict[str, dict[str, Any]]:
    """The world's companies at ``as_of`` in HubSpot's wire format (tests/sources/hubspot_ids)."""
    return {
        cid: {
            "name": w["name"],
            "domain": w["domain"],
            "lifecyclestage": "customer" if w["is_customer"] else "opportunity",
            "createdate": iso(w["created_at"]),
            "hs_lastmodifieddate": iso(w["modified_at"]),
            "hubspot_owner_id": w["owner_id"],
            "contact": w["contact"],
        }
        for cid, w in ids.world_companies(world, as_of).items()
    }


def test_companies_equal_the_world_with_their_primary_contact(
    url: str, app: HubSpotSandbox
) -> None:
    rows, batches = read(HubSpotSource(make_settings(url)), "companies")
    want = expected_companies(WORLD, WORLD.now)
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == len(by_id) and set(by_id) == set(want)
    assert set(by_id) == {k[0] for k in app.expected_keys("companies")}
    for cid, w in want.items():
        row = by_id[cid]
        for prop in ("name", "domain", "lifecyclestage", "createdate", "hs_lastmodifieddate",
                     "hubspot_owner_id"):
            assert row[prop] == w[prop], (cid, prop)
        assert row["associated_contact_ids"] == w["contact"]
        assert row["primary_contact_id"] == w["contact"]
        assert row["archived"] is False and row["archivedAt"] is None
    stages = {w["lifecyclestage"] for w in want.values()}
    assert stages == {"customer", "opportunity"}
    # a company whose person was merged points at the person's new record id
    assert any(int(w["contact"]) >= MERGED_ID_BASE for w in want.values()), \
        "the world must hold a merged person with a company"
    assert last_state(batches)["cursor"] == max(r["hs_lastmodifieddate"] for r in rows)


def test_company_wire_format_and_association_types(url: str) -> None:
    body = _post(url, "/crm/v3/objects/companies/search",
                 {"limit": 1, "properties": ["lifecyclestage"]}).json()
    result = body["results"][0]
    # name, domain, createdate, hs_lastmodifieddate and hs_object_id come unrequested
    assert set(result["properties"]) == {"name", "domain", "createdate", "hs_lastmodifieddate",
                                         "hs_object_id", "lifecyclestage"}
    assert all(isinstance(v, str) for v in result["properties"].values())
    assert body["paging"]["next"]["after"] == "1"
    company = result["id"]
    contact = str(int(company) - COMPANY_ID_BASE)
    deal = next(str(d.deal_id) for d in WORLD.deals if d.contact_id == int(contact))

    def types(from_type: str, to_type: str, from_id: str) -> list[tuple[int, str | None]]:
        out = _post(url, f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                    {"inputs": [{"id": from_id}]}).json()
        [res] = out["results"]
        [to] = res["to"]
        assert all(t["category"] == "HUBSPOT_DEFINED" for t in to["associationTypes"])
        return [(t["typeId"], t["label"]) for t in to["associationTypes"]]

    assert types("contacts", "companies", contact) == [(1, "Primary"), (279, None)]
    assert types("companies", "contacts", company) == [(2, "Primary"), (280, None)]
    assert types("deals", "companies", deal) == [(5, "Primary"), (341, None)]
    assert types("companies", "deals", company) == [(6, "Primary"), (342, None)]


def test_primary_contact_comes_from_the_label_not_the_order(
    url: str, app: HubSpotSandbox
) -> None:
    want = expected_companies(WORLD, WORLD.now)
    company = next(k for k in want if int(want[k]["contact"]) > 100010)
    buyer = int(company) - COMPANY_ID_BASE
    colleague = WORLD.contacts_as_of(WORLD.now)[0].contact_id  # a smaller id, listed first
    assert colleague < buyer
    app.extra_company_contacts = {buyer: [colleague]}
    app.association_page_size = 1  # the primary arrives on the second page
    rows, _ = read(HubSpotSource(make_settings(url)), "companies")
    row = next(r for r in rows if r["id"] == company)
    # listed in ascending id order: the colleague first, the buyer (Primary) second
    assert row["associated_contact_ids"] == f"{hs_id(colleague)};{want[company]['contact']}"
    assert row["primary_contact_id"] == want[company]["contact"]


def test_companies_page_and_resume_incrementally(url: str, app: HubSpotSandbox) -> None:
    settings = make_settings(url)
    app.as_of = EARLIER
    first, b1 = read(HubSpotSource(settings, page_size=10), "companies")
    assert len(searches(app, "companies")) > len(first) // 10  # keyset pages of 10
    assert len(first) == len({r["id"] for r in first}) == len(expected_companies(WORLD, EARLIER))
    state = last_state(b1)
    assert state is not None and "cursor" in state
    app.as_of = WORLD.now
    seen = len(searches(app, "companies"))
    second, _ = read(HubSpotSource(settings), "companies", state)
    cursor_filters = [f for body in searches(app, "companies")[seen:] for f in filters_of(body)
                      if f["propertyName"] == "hs_lastmodifieddate" and f["operator"] == "GTE"]
    assert cursor_filters and all(int(f["value"]) <= ms(state["cursor"]) for f in cursor_filters)
    full, _ = read(HubSpotSource(settings), "companies")
    merged = {r["id"]: r for r in first} | {r["id"]: r for r in second}
    assert merged == {r["id"]: r for r in full}
    assert len(second) < len(full)
    # a company won between the runs comes again, now a customer
    old = {r["id"]: r["lifecyclestage"] for r in first}
    assert any(old.get(r["id"]) == "opportunity" and r["lifecyclestage"] == "customer"
               for r in second)


def test_a_company_whose_contact_is_deleted_comes_back_archived() -> None:
    world = World(WorldConfig(days=23))  # its own world: this one deletes a contact with a deal
    buyer = next(world.contact_by_id[d.contact_id] for d in world.deals
                 if d.created_at < EARLIER and not world.contact_by_id[d.contact_id].absorbed)
    buyer.deleted_at = EARLIER + timedelta(days=1)
    app = HubSpotSandbox(world, token=TOKEN, as_of=EARLIER)
    with SandboxServer(app) as running:
        source = HubSpotSource(make_settings(running.url))
        first, b1 = read(source, "companies")
        company = str(COMPANY_ID_BASE + buyer.contact_id)
        assert company in {r["id"] for r in first}
        app.as_of = world.now
        second, _ = read(source, "companies", last_state(b1))
    gone = [r for r in second if r["id"] == company]
    assert gone == [dict(gone[0], archived=True, archivedAt=iso(buyer.deleted_at))]
    assert gone[0]["associated_contact_ids"] is None and gone[0]["primary_contact_id"] is None


def test_latest_history_timestamp_whatever_its_writing() -> None:
    """A property's latest version, as sent: HubSpot's own writing compared as text, any other
    (epoch milliseconds, no millis, an offset) parsed; what is no datetime is left out."""
    latest = streams._latest_timestamp
    assert latest(["2025-01-01T10:00:00.000Z", "2025-03-01T09:00:00.000Z", "2025-02-01T23:00:00.000Z"]) \
        == "2025-03-01T09:00:00.000Z"
    # 1735732800000 is 2025-01-01T12:00:00Z: later than both ISO ones, though it sorts first as text
    assert latest(["2025-01-01T10:00:00.000Z", "1735732800000", "2025-01-01T11:00:00Z"]) == "1735732800000"
    # 10:30+01:00 is 09:30Z: earlier, though greater as text
    assert latest(["2025-01-01T10:00:00.000Z", "2025-01-01T10:30:00.000+01:00"]) == "2025-01-01T10:00:00.000Z"
    # the greatest text is no datetime: the latest real one is found by parsing
    assert latest(["2025-01-01T10:00:00.000Z", "2025-13-99T99:99:99.999Z"]) == "2025-01-01T10:00:00.000Z"
    assert latest(["not a time", None]) is None
    assert latest([]) is None


def test_results_table_keeps_properties_as_sent_or_as_text() -> None:
    """Properties become string columns: strings as sent, a missing one null, and a value that
    is no string (a number, a boolean) its text, as HubSpot rows always had."""
    stream = next(s for s in HubSpotSource(Settings(hubspot_access_token="x")).streams if s.name == "contacts")
    results = [{"id": 1, "properties": {"email": "a@example.com", "lifecyclestage": "lead"}},
               {"id": "2", "properties": {"email": None}}]
    table = streams.results_table(stream, results, {})
    assert table.schema == stream.schema
    assert table.column("id").to_pylist() == ["1", "2"]
    assert table.column("email").to_pylist() == ["a@example.com", None]
    assert table.column("lifecyclestage").to_pylist() == ["lead", None]
    results[1]["properties"]["lifecyclestage"] = 7
    results[0]["properties"]["hs_merged_object_ids"] = True
    table = streams.results_table(stream, results, {})
    assert table.column("email").to_pylist() == ["a@example.com", None]
    assert table.column("lifecyclestage").to_pylist() == ["lead", "7"]
    assert table.column("hs_merged_object_ids").to_pylist() == ["True", None]
