"""Offline spend connector against its sandbox (a fake nginx JSON folder) over real HTTP, and
against real local folders. The warehouse + dbt staging round trip on both engines is
tests/load/test_offline_staging.py. No mocks of our code."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.offline import FOLDER, OfflineSandbox
from revops.sandbox.world import OFFLINE_CAMPAIGNS, World, WorldConfig, offline_campaign_id
from revops.settings import Settings, settings_from_env
from revops.sources.errors import FatalAPIError
from revops.sources.offline import SPEC
from revops.sources.offline.client import LocalFolder
from revops.sources.offline.streams import (
    FILES,
    SPEND_LINES,
    OfflineSource,
    offline_campaign_id as connector_campaign_id,
    parse_csv,
)

SANDBOX = get_sandbox("offline")

TOKEN = secrets.token_urlsafe(24)


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(days=45, platforms=("offline",)))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token=TOKEN)) as srv:
        yield srv


@pytest.fixture
def app(server: SandboxServer, world: World) -> Iterator[OfflineSandbox]:
    sandbox = server.app
    assert isinstance(sandbox, OfflineSandbox)
    sandbox.as_of, sandbox.malformed = world.now, False
    sandbox.faults.clear()
    sandbox.log.clear()
    yield sandbox
    sandbox.faults.clear()
    sandbox.malformed = False


def _settings(server: SandboxServer, world: World, **overrides: object) -> Settings:
    env = SANDBOX.env(server.url, TOKEN, world)
    return settings_from_env(env, **{"http_max_backoff_seconds": 0.01, **overrides})


def _read(source: OfflineSource, stream, state=None) -> tuple[list[dict], dict | None]:
    rows: list[dict] = []
    for batch in source.read(stream, state):
        assert batch.records.schema == stream.schema
        rows += batch.records.to_pylist()
        state = batch.state if batch.state is not None else state
    return rows, state


def _sums(rows: list[dict]) -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        out[(r["campaign_id"], r["date"], r["currency"])] += Decimal(r["amount"])
    return dict(out)


def _world_sums(world: World, as_of: datetime) -> dict[tuple[str, str, str], Decimal]:
    return {
        (d.ad.campaign_id, d.day.isoformat(), world.currency_of(d.ad)): d.spend
        for d in world.ad_days_as_of(as_of, "offline")
    }


# --- ids, the wire format, parsing ------------------------------------------------------------
@pytest.mark.parametrize("name", [
    *[n for n, _, _ in OFFLINE_CAMPAIGNS], "  Café & Bar: Print—Ads 2026 ", "A/B  test", "---",
])
def test_campaign_id_rule_agrees_with_the_world(name):
    assert connector_campaign_id(name) == offline_campaign_id(name)


def test_listing_and_files_are_nginx_shaped(server, app):
    listing = requests.get(server.url + FOLDER, headers={"Authorization": f"Bearer {TOKEN}"})
    assert listing.text.startswith('[\r\n{ "name":"2026-06.csv", "type":"file", "mtime":"')
    entries = json.loads(listing.text)
    assert [e["name"] for e in entries] == ["2026-06.csv", "2026-07.csv"]
    got = requests.get(server.url + FOLDER + "2026-06.csv", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.content.startswith(b"\xef\xbb\xbfdate,channel,campaign,amount,currency\r\n")
    mtime, size = got.headers["ETag"].strip('"').split("-")
    assert int(size, 16) == len(got.content) == entries[0]["size"]
    assert datetime.fromtimestamp(int(mtime, 16), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT") == entries[0]["mtime"]
    again = requests.get(server.url + FOLDER + "2026-06.csv",
                         headers={"Authorization": f"Bearer {TOKEN}", "If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304


def test_full_read_parses_amounts_ids_and_dates_exactly(server, app, world):
    source = SPEC.build(_settings(server, world))
    rows, state = _read(source, SPEND_LINES)
    # strings as written: two decimals, ISO dates, ISO currencies, ids from names
    assert all(isinstance(r["amount"], str) and r["amount"].count(".") == 1 for r in rows)
    assert {r["campaign_id"] for r in rows} == {offline_campaign_id(n) for n, _, _ in OFFLINE_CAMPAIGNS}
    assert {r["currency"] for r in rows} == {"USD", "GBP", "EUR"}
    assert all(date.fromisoformat(r["date"]) for r in rows)
    assert rows[0]["line_number"] == "2" and rows[0]["file_name"] == "2026-06.csv"  # BOM + header skipped
    # an event day is two lines; summed they are the world's booking to the cent
    events = [r for r in rows if r["channel"] == "events"]
    assert len(events) == 2 * len({r["date"] for r in events}) == 6
    assert _sums(rows) == _world_sums(world, app.as_of)
    assert set(state["files"]) == {"2026-06.csv", "2026-07.csv"}
    files, _ = _read(source, FILES)
    assert {f["file_name"]: f["file_version"] for f in files} == state["files"]


def test_days_are_calendar_dates_never_shifted_by_a_zone(server, app, world):
    """The CSV's date is the booking date: no zone conversion. The sandbox writes a day once
    it began in New York (the world's day zone for the account); at 02:00 UTC on day d+1 the
    last line is still day d, and we must report exactly d (not d+1, the UTC date)."""
    d = world.start + timedelta(days=20)  # a Monday has print, the 1st has sponsorship
    while d.weekday() != 0:
        d += timedelta(days=1)
    app.as_of = datetime.combine(d + timedelta(days=1), time(2), tzinfo=UTC)
    assert app.as_of.astimezone(ZoneInfo(world.account_by_id[("offline", "offline")].day_zone)).date() == d
    rows, _ = _read(SPEC.build(_settings(server, world)), SPEND_LINES)
    assert max(r["date"] for r in rows) == d.isoformat()
    assert _sums(rows) == _world_sums(world, app.as_of)


def test_unchanged_files_are_not_reread_and_restated_days_replace_old(server, app, world):
    settings = _settings(server, world)
    monday = next(world.end - timedelta(days=i) for i in range(7, 14) if (world.end - timedelta(days=i)).weekday() == 0)
    app.as_of = datetime.combine(monday + timedelta(days=1), time(12), tzinfo=UTC)  # its print ad is provisional
    first, state = _read(SPEC.build(settings), SPEND_LINES)
    app.as_of = world.now
    app.log.clear()
    second, state2 = _read(SPEC.build(settings), SPEND_LINES, state)
    fetched = [r.path for r in app.log if r.path.endswith(".csv")]
    assert fetched == [FOLDER + "2026-07.csv"], "June did not change: it must not be fetched"
    assert {r["file_name"] for r in second} == {"2026-07.csv"}
    assert state2["files"]["2026-06.csv"] == state["files"]["2026-06.csv"]
    assert state2["files"]["2026-07.csv"] != state["files"]["2026-07.csv"]
    merged = {(r["file_name"], r["line_number"]): r for r in [*first, *second]}
    assert _sums(list(merged.values())) == _world_sums(world, world.now)
    # the provisional days of the first run were restated: their amounts changed
    old = _sums(first)
    assert any(old[k] != v for k, v in _sums(second).items() if k in old)
    # a third run with nothing changed reads no file
    app.log.clear()
    third, state3 = _read(SPEC.build(settings), SPEND_LINES, state2)
    assert third == [] and state3 == state2
    assert [r.path for r in app.log] == [FOLDER]


# --- faults ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["truncated", "rate_limit", "server_error"])
def test_a_failing_file_download_is_retried(server, app, world, fault):
    app.faults.add(fault, times=2, path=".csv")
    source = SPEC.build(_settings(server, world))
    rows, _ = _read(source, SPEND_LINES)
    assert _sums(rows) == _world_sums(world, app.as_of)
    assert {(r["file_name"], r["line_number"]) for r in rows} == app.expected_keys("spend_lines")
    assert source.client.stats["retries"] >= 2


def test_a_slow_server_times_out_and_is_retried(server, app, world):
    app.slow_seconds = 0.6
    app.faults.add("slow", path="2026-07.csv")
    source = SPEC.build(_settings(server, world, http_timeout_seconds=0.3))
    rows, _ = _read(source, SPEND_LINES)
    assert _sums(rows) == _world_sums(world, app.as_of)
    assert source.client.stats["retries"] >= 1


def test_expired_token_is_fatal_naming_the_variable_never_the_token(server, app, world, caplog):
    caplog.set_level(logging.DEBUG)
    app.faults.add("expired_token", path=".csv")
    source = SPEC.build(_settings(server, world))
    with pytest.raises(FatalAPIError) as err:
        _read(source, SPEND_LINES)
    assert "REVOPS_OFFLINE_SPEND_TOKEN" in str(err.value) and "expired" in str(err.value)
    assert TOKEN not in str(err.value) and TOKEN not in caplog.text
    assert source.client.stats["retries"] == 0


def test_missing_token_is_fatal_and_says_which_variable(server, app, world):
    settings = _settings(server, world, offline_spend_token=None)
    with pytest.raises(FatalAPIError, match="REVOPS_OFFLINE_SPEND_TOKEN is not set"):
        _read(SPEC.build(settings), SPEND_LINES)


def test_malformed_rows_are_kept_with_their_line_numbers(server, app, world):
    app.faults.add("malformed_rows")
    rows, _ = _read(SPEC.build(_settings(server, world)), SPEND_LINES)
    bad = app.malformed_lines()
    assert len(bad) == 4
    by_key = {(r["file_name"], int(r["line_number"])): r for r in rows}
    assert by_key[next(k for k, v in bad.items() if v == "bad date")]["date"] == "06/24/2026"
    assert by_key[next(k for k, v in bad.items() if v == "non-numeric amount")]["amount"] == "1,200.00"
    assert by_key[next(k for k, v in bad.items() if v == "missing campaign")]["campaign"] is None


# --- local folder mode ---------------------------------------------------------------------------
def _local(folder: Path) -> OfflineSource:
    settings = settings_from_env({"REVOPS_OFFLINE_SPEND_LOCATION": str(folder)})
    return OfflineSource(settings)


def test_local_folder_parses_the_documented_format_and_its_pitfalls(tmp_path):
    (tmp_path / "2026-06.csv").write_bytes(
        b"\xef\xbb\xbfCurrency,Date,Campaign,Amount,Channel,Notes\r\n"   # BOM, any order, extra column
        b'GBP,2026-06-01,"DevOps Weekly Sponsorship",2500.00,sponsorship,"paid, thanks"\r\n'
        b'USD,2026-06-24,"SaaStr Annual 2026",12000.00,events,"booth\r\nand travel"\r\n'  # spans 2 lines
        b"EUR,2026-06-29,Trade Journal Print,-150.00,print,credit note\r\n"
        b",,,,,\r\n\r\n"                                                  # Excel filler, blank
        b"USD,2026-06-30,Stray, comma,10.00,events,\r\n"                  # 7 fields: quarantined later
    )
    (tmp_path / "notes.txt").write_text("not a csv")
    rows, state = _read(_local(tmp_path), SPEND_LINES)
    assert [(r["line_number"], r["date"], r["amount"], r["currency"]) for r in rows] == [
        ("2", "2026-06-01", "2500.00", "GBP"),
        ("3", "2026-06-24", "12000.00", "USD"),
        ("5", "2026-06-29", "-150.00", "EUR"),
        ("8", "2026-06-30", " comma", "USD"),  # fields shift: field_count tells
    ]
    assert rows[1]["campaign_id"] == "offline-saastr-annual-2026"
    assert [r["field_count"] for r in rows] == ["6", "6", "6", "7"]
    assert list(state["files"]) == ["2026-06.csv"]


def test_local_folder_is_incremental_by_mtime_and_size(tmp_path):
    f = tmp_path / "2026-06.csv"
    f.write_text("date,channel,campaign,amount,currency\n2026-06-01,print,P,1.00,EUR\n")
    (tmp_path / "2026-07.csv").write_text("date,channel,campaign,amount,currency\n2026-07-06,print,P,2.00,EUR\n")
    source = _local(tmp_path)
    _, state = _read(source, SPEND_LINES)
    source = _local(tmp_path)
    rows, state2 = _read(source, SPEND_LINES, state)
    assert rows == [] and state2 == state and source.client.stats["requests"] == 0
    f.write_text("date,channel,campaign,amount,currency\n2026-06-01,print,P,1.50,EUR\n")
    os.utime(f, ns=(f.stat().st_mtime_ns + 10**9,) * 2)  # same size: the mtime tells
    source = _local(tmp_path)
    rows, state3 = _read(source, SPEND_LINES, state2)
    assert [(r["file_name"], r["amount"]) for r in rows] == [("2026-06.csv", "1.50")]
    assert state3["files"]["2026-06.csv"] != state2["files"]["2026-06.csv"]
    files, fstate = _read(source, FILES)
    assert {r["file_name"]: r["file_version"] for r in files} == state3["files"]
    # a removed file leaves the lines' state and is tombstoned in the listing
    (tmp_path / "2026-07.csv").unlink()
    source = _local(tmp_path)
    rows, state4 = _read(source, SPEND_LINES, state3)
    assert rows == [] and list(state4["files"]) == ["2026-06.csv"]
    files, _ = _read(source, FILES, fstate)
    assert {r["file_name"]: r["is_deleted"] for r in files} == {"2026-06.csv": "false", "2026-07.csv": "true"}


def test_a_file_without_the_header_or_not_utf8_stops_naming_the_file():
    with pytest.raises(FatalAPIError, match="x.csv line 1: the header lacks date, channel, campaign, amount, currency"):
        parse_csv("x.csv", "v", b"2026-06-01,print,P,1.00,EUR\r\n")
    with pytest.raises(FatalAPIError, match="y.csv is not UTF-8"):
        parse_csv("y.csv", "v", "date,channel,campaign,amount,currency\n2026-06-01,print,Caf\u00e9,1,EUR\n".encode("cp1252"))
    with pytest.raises(FatalAPIError, match="is not a folder"):
        _read(OfflineSource(Settings(_env_file=None, offline_spend_location="/nonexistent/x"),
                            LocalFolder("/nonexistent/x")), SPEND_LINES)
