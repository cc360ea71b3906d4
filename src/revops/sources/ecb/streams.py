"""The ECB ``rates`` stream as data, the parsers of the ECB's files, and the reader.

One record per (``rate_date``, ``currency``): units of ``currency`` per 1 EUR, as a decimal
string. Which file is read:

* first run (no state): ``eurofxref-hist.zip`` (every day since 1999), kept from
  ``START_DATE - 14 days`` on, so a spend day on a weekend or holiday right at the start still
  finds the last earlier rate;
* later runs: from ``saved rate_date - ECB_LOOKBACK_DAYS``, out of ``eurofxref-hist-90d.xml``
  when that day is within ~85 days of today (the file holds the last 90 days), else out of the
  history zip again. If the 90-day file does not reach back that far after all (a clock far
  off), the zip is read instead: the choice costs at most one small extra download, never a gap.

The state is the last ``rate_date`` loaded (from the data, never the clock). The ECB never
restates a published rate, so the lookback only covers a run that crashed half way.

Rates are stored as strings, but in one canonical decimal form (trailing zeros dropped:
``"0.84630"`` -> ``"0.8463"``): the history CSV already writes them so, while the XML files
keep the zeros, and the same rate must be the same record whichever file it came from.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree

import pyarrow as pa

from revops.settings import Settings
from revops.sources.base import Batch, Stream, records_to_table, utc_now
from revops.sources.http import http_options
from revops.sources.ecb.client import EcbClient, MalformedFileError, unzip_member

log = logging.getLogger(__name__)

SOURCE = "ecb"
HIST_ZIP = "eurofxref-hist.zip"
HIST_CSV = "eurofxref-hist.csv"
HIST_90D_XML = "eurofxref-hist-90d.xml"
#: the last publication only: what `revops doctor` fetches
DAILY_XML = "eurofxref-daily.xml"
#: the first run reaches this far before START_DATE (a weekend start still finds a rate)
START_MARGIN_DAYS = 14
#: the 90-day file is used when the first day wanted is at most this many days old
HIST_90D_REACH_DAYS = 85
#: records per batch (the full history since 1999 is ~200k records)
BATCH_ROWS = 20_000

GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
#: a cell of the history CSV for a currency not quoted that day
NOT_QUOTED = "N/A"

RATES = Stream(
    source=SOURCE,
    name="rates",
    primary_key=("rate_date", "currency"),
    schema=pa.schema([
        pa.field("rate_date", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("rate", pa.string()),
    ]),
    cursor_field="rate_date",
    lookback=7,
    description="ECB euro reference rates: units of currency per 1 EUR, TARGET days only.",
)

Record = dict[str, str]


# --- parsers (pure) -------------------------------------------------------------------------
def canonical_rate(text: str) -> str:
    """``"0.84630"`` -> ``"0.8463"``, ``"136.00"`` -> ``"136"``; text that is not a decimal
    is kept as sent, so the quality suite quarantines it with its reason."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    return format(value.normalize(), "f")


def parse_hist_csv(text: str) -> list[Record]:
    """``eurofxref-hist.csv``: ``Date,USD,JPY,...,ZAR,`` then one row a day, newest first.

    Columns are mapped by header name (their order has changed over the years); the trailing
    comma's empty column and ``N/A`` cells (currency not quoted that day) are skipped."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise MalformedFileError(f"{HIST_CSV}: header does not start with Date: {header!r:.80}")
    names = [h.strip() for h in header]
    records: list[Record] = []
    for row in reader:
        if not row or not row[0].strip():
            continue
        day = row[0].strip()
        for name, cell in zip(names[1:], row[1:], strict=False):
            value = cell.strip()
            if not name or not value or value == NOT_QUOTED:
                continue
            records.append({"rate_date": day, "currency": name, "rate": canonical_rate(value)})
    return records


def parse_cube_xml(body: bytes) -> list[Record]:
    """``eurofxref-daily.xml`` / ``eurofxref-hist-90d.xml``: a ``gesmes:Envelope`` holding
    ``Cube > Cube[@time] > Cube[@currency][@rate]`` in the eurofxref namespace."""
    root = ElementTree.fromstring(body)
    if root.tag != f"{{{GESMES_NS}}}Envelope":
        raise MalformedFileError(f"not a gesmes:Envelope but {root.tag!r}")
    records: list[Record] = []
    for day in root.iter(f"{{{EUROFXREF_NS}}}Cube"):
        when = day.get("time")
        if when is None:
            continue
        for quote in day.findall(f"{{{EUROFXREF_NS}}}Cube"):
            currency, rate = quote.get("currency"), quote.get("rate")
            if currency and rate and rate != NOT_QUOTED:
                records.append({"rate_date": when, "currency": currency, "rate": canonical_rate(rate)})
    return records


def parse_hist_zip(body: bytes) -> list[Record]:
    return parse_hist_csv(unzip_member(body, HIST_CSV))


# --- the connector --------------------------------------------------------------------------
class EcbSource:
    """The ECB connector: one stream, ``rates``."""

    name = SOURCE

    def __init__(
        self,
        settings: Settings,
        client: EcbClient | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.settings = settings
        self.client = client or _client_from(settings)
        #: "today", only to choose between the 90-day file and the history zip
        self.clock = clock
        #: the files read by the last ``read`` (observable in tests and logs)
        self.files_read: list[str] = []

    def check(self) -> str:
        """``eurofxref-daily.xml``, the smallest file: the base URL answers with rates."""
        records = self.client.download(DAILY_XML, parse_cube_xml)
        return f"daily file answers ({len(records)} rates)"

    @property
    def streams(self) -> list[Stream]:
        return [dataclasses.replace(RATES, lookback=self.settings.ecb_lookback_days)]

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        if stream.name != RATES.name:
            raise KeyError(f"ecb has no stream {stream.name!r}")
        saved = (state or {}).get(stream.cursor_field or "rate_date")
        since = self.settings.start_date - timedelta(days=START_MARGIN_DAYS)
        if saved:
            since = max(since, date.fromisoformat(saved) - timedelta(days=stream.lookback))
        records = self._fetch(since, use_90d=bool(saved) and self._within_90d(since))
        # a record whose date does not parse is kept: the quality suite quarantines it with
        # its reason rather than it vanishing here
        kept = sorted(
            (r for r in records if (d := _day(r)) is None or d >= since),
            key=lambda r: (r["rate_date"], r["currency"]),
        )
        log.info("ecb: %d rates from %s on (%s)", len(kept), since, ", ".join(self.files_read))
        cursor = saved
        if not kept:
            yield Batch(stream, records_to_table(stream, []), state={"rate_date": cursor} if cursor else None)
            return
        for start in range(0, len(kept), BATCH_ROWS):
            chunk = kept[start : start + BATCH_ROWS]
            days = [d.isoformat() for d in (_day(r) for r in chunk) if d is not None]
            cursor = max([*days, cursor or ""]) or None
            meta = {"since": since.isoformat(), "files": list(self.files_read)}
            batch_state = {"rate_date": cursor} if cursor else None
            yield Batch(stream, records_to_table(stream, chunk), state=batch_state, meta=meta)

    def _within_90d(self, since: date) -> bool:
        return (self.clock().date() - since).days <= HIST_90D_REACH_DAYS

    def _fetch(self, since: date, *, use_90d: bool) -> list[Record]:
        self.files_read = []
        if use_90d:
            self.files_read.append(HIST_90D_XML)
            records = self.client.download(HIST_90D_XML, parse_cube_xml)
            days = [d for d in (_day(r) for r in records) if d is not None]
            if days and min(days) <= since:
                return records
            log.warning(
                "ecb: %s starts on %s, after %s; reading %s instead",
                HIST_90D_XML, min(days) if days else None, since, HIST_ZIP,
            )
        self.files_read.append(HIST_ZIP)
        return self.client.download(HIST_ZIP, parse_hist_zip)


def _day(record: Record) -> date | None:
    """The record's date, None when it is not an ISO date (the quality suite reports it)."""
    try:
        return date.fromisoformat(record["rate_date"])
    except (TypeError, ValueError):
        return None


def _client_from(settings: Settings) -> EcbClient:
    return EcbClient(
        settings.ecb_base_url,
        **http_options(settings),
    )
