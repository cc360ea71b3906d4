"""ECB connector against the ECB sandbox over real HTTP (127.0.0.1).

The sandbox publishes the world's reference rates in the ECB's own files at a clock; the
connector must end up with exactly the rates published at that clock, through the history
CSV's pitfalls (trailing comma, N/A cells, newest-first rows, changing column order), the
switch between the history zip and the 90-day XML, and the usual transient failures.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
import requests

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.servers.ecb import EcbSandbox
from revops.sandbox.world import World, WorldConfig, is_target_day
from revops.settings import settings_from_env
from revops.sources.ecb import SPEC
from revops.sources.ecb.streams import (
    HIST_90D_XML,
    HIST_ZIP,
    EcbSource,
    canonical_rate,
    parse_cube_xml,
    parse_hist_csv,
)
from revops.sources.errors import FatalAPIError, RetriableAPIError

SANDBOX = get_sandbox("ecb")

CET = ZoneInfo("Europe/Berlin")
Key = tuple[str, str]


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=5, days=30, platforms=("meta",)))


def _serve(world: World) -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX.app(world, token="unused")) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    yield from _serve(world)


@pytest.fixture
def app(server: SandboxServer, world: World) -> Iterator[EcbSandbox]:
    sandbox = server.app
    assert isinstance(sandbox, EcbSandbox)
    sandbox.as_of = world.now
    sandbox.faults.clear()
    sandbox.log.clear()
    yield sandbox
    sandbox.faults.clear()


def _source(url: str, world: World, clock: Callable[[], datetime] | None = None, **env: Any) -> EcbSource:
    settings = settings_from_env(
        {**SANDBOX.env(url, "", world), **env}, http_max_backoff_seconds=0.02
    )
    return EcbSource(settings, clock=clock) if clock else EcbSource(settings)


@pytest.fixture
def make_source(server: SandboxServer, world: World, app: EcbSandbox) -> Callable[..., EcbSource]:
    """A connector whose "today" is the sandbox clock (``pinned``) or a given clock."""

    def build(clock: Callable[[], datetime] | None = None, **env: Any) -> EcbSource:
        return _source(server.url, world, clock or (lambda: app.as_of), **env)

    return build


def read(source: EcbSource, state: dict | None = None) -> tuple[dict[Key, dict], dict | None, int]:
    """(records by key, final state, records yielded)."""
    (stream,) = source.streams
    rows: dict[Key, dict] = {}
    count = 0
    for batch in source.read(stream, state):
        assert batch.records.schema == stream.schema
        for rec in batch.records.to_pylist():
            rows[(rec["rate_date"], rec["currency"])] = rec
            count += 1
        if batch.state is not None:
            state = batch.state
    return rows, state, count


def truth(world: World, as_of: datetime, since: date | None = None) -> dict[Key, Decimal]:
    since = since or world.start - timedelta(days=14)
    return {
        (d.isoformat(), cur): rate
        for d, quotes in world.fx_published_as_of(as_of).items()
        if d >= since
        for cur, rate in quotes.items()
    }


def as_values(rows: dict[Key, dict]) -> dict[Key, Decimal]:
    return {k: Decimal(r["rate"]) for k, r in rows.items()}


def files(app: EcbSandbox) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in app.log]


def hist_csv(url: str) -> list[str]:
    body = requests.get(f"{url}/stats/eurofxref/{HIST_ZIP}", timeout=5).content
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["eurofxref-hist.csv"]
        return archive.read("eurofxref-hist.csv").decode().splitlines()


def cet(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CET).astimezone(UTC)


# --- registry -------------------------------------------------------------------------------
def test_spec_is_public_unpaged_and_append_only(server, world):
    assert SPEC.name == "ecb" and SPEC.secret_env is None and SANDBOX.small_pages_env is None
    assert SPEC.restates is False
    env = SANDBOX.env(server.url, "tok", world)
    assert env["REVOPS_ECB_BASE_URL"] == f"{server.url}/stats/eurofxref"
    assert "tok" not in "".join(env.values())
    settings = settings_from_env(env)
    assert SPEC.configured(settings)
    assert isinstance(SPEC.build(settings), EcbSource)
    (stream,) = SPEC.build(settings).streams
    assert (stream.table, stream.primary_key, stream.cursor_field) == ("ecb__rates", ("rate_date", "currency"), "rate_date")
    assert stream.lookback == settings.ecb_lookback_days == 7


# --- full read and parsing -------------------------------------------------------------------
def test_first_run_reads_the_history_zip_from_start_minus_14_days(app, world, make_source):
    rows, state, count = read(make_source())
    assert files(app) == [HIST_ZIP]
    assert as_values(rows) == truth(world, app.as_of)
    assert count == len(rows)
    first = min(date.fromisoformat(d) for d, _ in rows)
    assert world.start - timedelta(days=14) <= first < world.start
    assert state == {"rate_date": max(d for d, _ in rows)}


def test_start_date_filters_the_history(app, world, make_source):
    later = world.start + timedelta(days=20)
    rows, _, _ = read(make_source(REVOPS_START_DATE=later.isoformat()))
    assert as_values(rows) == truth(world, app.as_of, later - timedelta(days=14))
    assert min(d for d, _ in rows) >= (later - timedelta(days=14)).isoformat()


def test_records_are_strings_as_published(app, world, make_source):
    rows, _, _ = read(make_source())
    day = max(world.fx_published_as_of(app.as_of))
    quotes = world.fx_rates[day]
    for cur, rate in quotes.items():
        rec = rows[(day.isoformat(), cur)]
        assert rec == {"rate_date": day.isoformat(), "currency": cur, "rate": canonical_rate(str(rate))}
        assert Decimal(rec["rate"]) == rate  # to the last published decimal
    assert {type(v) for r in rows.values() for v in r.values()} == {str}
    # JPY has two decimals, GBP five: the text keeps every significant digit
    assert len(rows[(day.isoformat(), "GBP")]["rate"].split(".")[1]) <= 5


def test_trailing_comma_na_cells_and_newest_first(app, server, world, make_source):
    lines = hist_csv(server.url)
    header = lines[0].split(",")
    assert header[0] == "Date" and header[-1] == "" and lines[0].endswith("ZAR,")
    assert all(line.endswith(",") for line in lines)
    dates = [line.split(",", 1)[0] for line in lines[1:]]
    assert dates == sorted(dates, reverse=True), "the file is newest first"
    cyp, hrk = header.index("CYP"), header.index("HRK")
    assert {line.split(",")[cyp] for line in lines[1:]} == {"N/A"}
    assert {line.split(",")[hrk] for line in lines[1:]} == {"N/A"}

    rows, state, _ = read(make_source())
    currencies = {c for _, c in rows}
    assert currencies == {c for q in world.fx_rates.values() for c in q}
    assert "" not in currencies and not {"CYP", "HRK", "BGN"} & currencies
    assert "N/A" not in {r["rate"] for r in rows.values()}
    assert state == {"rate_date": dates[0]}, "the cursor is the newest day, whatever the file order"


def test_columns_are_mapped_by_header_name(app, server, world, make_source):
    app.faults.add("reordered_columns", times=2, path=HIST_ZIP)
    header = hist_csv(server.url)[0].split(",")
    assert header.index("USD") > header.index("GBP"), "USD comes first in the usual order"
    app.log.clear()
    moved, _, _ = read(make_source())
    assert files(app) == [HIST_ZIP]
    assert as_values(moved) == truth(world, app.as_of)


def test_parsers_on_the_real_shapes():
    csv_text = (
        "Date,USD,JPY,BGN,CYP,CZK,GBP,\n"
        "2021-04-23,1.2066,129.98,1.9558,N/A,25.847,0.86905,\n"
        "2021-04-22,1.2028,129.54,1.9558,N/A,25.85,0.8675,\n"
    )
    records = parse_hist_csv(csv_text)
    assert {(r["rate_date"], r["currency"]): r["rate"] for r in records} == {
        ("2021-04-23", "USD"): "1.2066", ("2021-04-23", "JPY"): "129.98",
        ("2021-04-23", "BGN"): "1.9558", ("2021-04-23", "CZK"): "25.847",
        ("2021-04-23", "GBP"): "0.86905", ("2021-04-22", "USD"): "1.2028",
        ("2021-04-22", "JPY"): "129.54", ("2021-04-22", "BGN"): "1.9558",
        ("2021-04-22", "CZK"): "25.85", ("2021-04-22", "GBP"): "0.8675",
    }
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<gesmes:Envelope '
        b'xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        b'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
        b"<gesmes:subject>Reference rates</gesmes:subject><Cube><Cube time='2015-02-12'>"
        b"<Cube currency='USD' rate='1.1328'/><Cube currency='GBP' rate='0.73760'/>"
        b"<Cube currency='ISK' rate='136.00'/></Cube></Cube></gesmes:Envelope>"
    )
    assert [(r["currency"], r["rate"]) for r in parse_cube_xml(xml)] == [
        ("USD", "1.1328"), ("GBP", "0.7376"), ("ISK", "136"),
    ]
    assert canonical_rate("0.84630") == "0.8463" and canonical_rate("1.O85") == "1.O85"
    assert canonical_rate("1E+2") == "100" and canonical_rate("NaN") == "NaN"


def test_sandbox_serves_the_daily_files_in_their_shapes(app, server, world):
    day = max(world.fx_published_as_of(app.as_of))
    body = requests.get(f"{server.url}/stats/eurofxref/eurofxref-daily.xml", timeout=5).content
    root = ElementTree.fromstring(body)
    assert root.tag == "{http://www.gesmes.org/xml/2002-08-01}Envelope"
    assert {r["rate_date"] for r in parse_cube_xml(body)} == {day.isoformat()}
    assert b"EUR" not in body.replace(b"eurofxref", b"")
    raw = requests.get(f"{server.url}/stats/eurofxref/eurofxref.zip", timeout=5).content
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        header, row = archive.read("eurofxref.csv").decode().splitlines()
    assert header.startswith("Date, USD, JPY, ") and header.endswith(", ")
    assert row.startswith(f"{day.day:02d} {day:%B} {day.year}, ") and row.endswith(", ")
    usd = row.split(", ")[header.split(", ").index("USD")]
    assert usd == str(world.fx_rates[day]["USD"]), "the daily files keep trailing zeros"


# --- publication calendar --------------------------------------------------------------------
def test_publication_at_16_cet(app, world, make_source):
    day = next(d for d in sorted(world.fx_rates) if d >= world.start + timedelta(days=3))
    app.as_of = cet(day, 15)
    before, state, _ = read(make_source())
    assert not any(d == day.isoformat() for d, _ in before)
    assert state["rate_date"] < day.isoformat()
    app.as_of = cet(day, 16, 30)
    after, state, _ = read(make_source())
    assert {c for d, c in after if d == day.isoformat()} == set(world.fx_rates[day])
    assert state == {"rate_date": day.isoformat()}


@pytest.mark.parametrize(
    "start, closed",
    [
        # Christmas and New Year: 25-26 Dec and 1 Jan are TARGET holidays
        (date(2026, 12, 20), [date(2026, 12, 25), date(2027, 1, 1)]),
        # Easter 2027 is 28 March: Good Friday 26 March and Easter Monday 29 March
        (date(2027, 3, 20), [date(2027, 3, 26), date(2027, 3, 29)]),
    ],
    ids=["christmas", "easter"],
)
def test_weekend_and_holiday_gaps(start, closed):
    world = World(WorldConfig(start=start, days=20, platforms=("meta",)))
    for server in _serve(world):
        rows, _, _ = read(_source(server.url, world, lambda: world.now))
    days = {date.fromisoformat(d) for d, _ in rows}
    # from START_DATE - 14 days to the day before the clock (12:00 UTC, before the 16:00 CET release)
    span = [start - timedelta(days=14) + timedelta(days=i) for i in range(14 + 20 + 1)]
    assert span[-1] == world.now.date() - timedelta(days=1)
    assert days == {d for d in span if d.weekday() < 5 and d not in closed}
    assert all(is_target_day(d) for d in days)
    assert not any(d in days for d in closed)
    assert as_values(rows) == truth(world, world.now)


# --- incremental: history zip vs 90-day XML --------------------------------------------------
def test_resume_reads_the_90_day_xml_from_cursor_minus_lookback(app, world, make_source):
    app.as_of = world.now - timedelta(days=10)
    _, state, _ = read(make_source())
    app.as_of = world.now
    app.log.clear()
    rows, new_state, _ = read(make_source(), state)
    assert files(app) == [HIST_90D_XML]
    since = date.fromisoformat(state["rate_date"]) - timedelta(days=7)
    assert as_values(rows) == truth(world, app.as_of, since)
    assert new_state == {"rate_date": max(world.fx_published_as_of(app.as_of)).isoformat()}
    assert new_state["rate_date"] > state["rate_date"]


def test_same_rate_is_the_same_record_from_zip_and_xml(app, world, make_source):
    from_zip, state, _ = read(make_source())
    from_xml, _, _ = read(make_source(), state)
    assert files(app) == [HIST_ZIP, HIST_90D_XML]
    assert from_xml and all(from_zip[k] == rec for k, rec in from_xml.items())
    # the XML writes 0.84630 where the CSV writes 0.8463: both stored as the CSV writes it
    assert any(str(world.fx_rates[date.fromisoformat(d)][c]) != r["rate"] for (d, c), r in from_xml.items())


def test_an_old_cursor_reads_the_history_zip(app, world, make_source):
    state = {"rate_date": (world.start + timedelta(days=3)).isoformat()}
    # the wall clock says the cursor is ~100 days old: beyond the 90-day file
    rows, _, _ = read(make_source(clock=lambda: app.as_of + timedelta(days=100)), state)
    assert files(app) == [HIST_ZIP]
    assert as_values(rows) == truth(world, app.as_of, world.start - timedelta(days=4))


def test_a_90_day_file_that_does_not_reach_back_falls_back_to_the_zip(app, world, make_source):
    state = {"rate_date": (world.start + timedelta(days=3)).isoformat()}
    app.as_of = world.now + timedelta(days=80)  # the 90-day file no longer reaches the cursor
    assert read(make_source(), {"rate_date": world.now.date().isoformat()})[0], "it is not empty"
    app.log.clear()
    rows, _, _ = read(make_source(clock=lambda: world.now), state)  # a clock far behind
    assert files(app) == [HIST_90D_XML, HIST_ZIP]
    assert as_values(rows) == truth(world, app.as_of, world.start - timedelta(days=4))


def test_nothing_new_keeps_the_state(app, world, make_source):
    _, state, _ = read(make_source())
    rows, again, count = read(make_source(), state)
    assert again == state
    assert count == len(rows) <= 8 * 4  # only the lookback's publications


# --- failures --------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "truncated", "html_page"])
@pytest.mark.parametrize("file", [HIST_ZIP, HIST_90D_XML])
def test_transient_failures_are_retried(app, world, make_source, fault, file):
    source = make_source()
    state = None
    if file == HIST_90D_XML:
        _, state, _ = read(make_source())
        app.log.clear()
    app.faults.add(fault, times=2, path=file)
    rows, _, _ = read(source, state)
    assert files(app) == [file] * 3
    assert source.client.stats["retries"] == 2
    since = date.fromisoformat(state["rate_date"]) - timedelta(days=7) if state else None
    assert as_values(rows) == truth(world, app.as_of, since)


def test_rate_limit_wait_is_the_retry_after_capped(app, make_source, caplog):
    source = make_source()
    app.faults.add("rate_limit", path=HIST_ZIP)
    with caplog.at_level(logging.WARNING):
        rows, _, _ = read(source)
    # the 429 says Retry-After: 30; HTTP_MAX_BACKOFF_SECONDS (0.02 here) caps it: the wait the
    # client logged, not the wall time (which a loaded machine stretches)
    assert rows and source.client.stats["retries"] == 1
    logged = [r.getMessage() for r in caplog.records]
    waits = [float(m[1]) for line in logged if (m := re.search(r"retry 1 after .* \((\d+\.\d+)s\)$", line))]
    assert waits and max(waits) < 1, logged


def test_a_body_that_stays_unreadable_fails_after_the_retries(app, make_source):
    source = make_source(REVOPS_HTTP_MAX_RETRIES="2")
    app.faults.add("truncated", times=10, path=HIST_ZIP)
    with pytest.raises(RetriableAPIError, match="unreadable after 3 downloads"):
        read(source)
    assert files(app) == [HIST_ZIP] * 3


def test_wrong_base_url_is_fatal_and_not_retried(server, app, world):
    source = _source(server.url, world, REVOPS_ECB_BASE_URL=f"{server.url}/stats/eurofxrefs")
    with pytest.raises(FatalAPIError, match="REVOPS_ECB_BASE_URL"):
        read(source)
    assert source.client.stats["retries"] == 0 and len(app.log) == 1


def test_malformed_cell_is_kept_for_the_quality_suite(app, make_source):
    app.faults.add("malformed_record", path=HIST_ZIP)
    rows, _, _ = read(make_source())
    bad = [r for r in rows.values() if r["rate"] == "1.O85"]
    assert len(bad) == 1 and bad[0]["currency"] == "USD"
