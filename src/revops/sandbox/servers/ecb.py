"""A fake ``www.ecb.europa.eu/stats/eurofxref`` serving the world's reference rates in the
ECB's own file formats, as published at ``self.as_of``.

A day's rates appear at 16:00 CET on that day (``fx_published_at``), only on TARGET working
days (``is_target_day``): nothing on weekends, 1 Jan, Good Friday, Easter Monday, 1 May,
25-26 Dec. What it reproduces, because readers of these files get it wrong:

* ``eurofxref-hist.zip`` holds ``eurofxref-hist.csv``: header ``Date,USD,JPY,BGN,CYP,...,ZAR,``
  with a **trailing comma** (an empty last column on every line), ISO dates **newest first**,
  ``N/A`` for every currency not quoted that day (CYP, EEK, HRK, RUB, BGN from 2026 ... here
  every currency the world does not quote), numbers without trailing zeros (``0.85``);
* ``eurofxref-hist-90d.xml``, ``eurofxref-hist.xml`` and ``eurofxref-daily.xml``: a
  ``gesmes:Envelope`` with the eurofxref default namespace,
  ``Cube > Cube[@time] > Cube[@currency][@rate]``, newest first, single-quoted attributes,
  numbers with the ECB's fixed decimals (``0.84630``, ``136.00``), no EUR and no N/A;
* ``eurofxref.zip`` holds ``eurofxref.csv``: ``Date, USD, JPY, ..., ZAR, `` (comma-space, with
  a trailing ``, ``) and one row dated like ``03 June 2021``.

Faults (``app.faults.add(kind)``): ``rate_limit`` (429 HTML page with ``Retry-After``),
``server_error`` (503 HTML page), ``truncated`` and ``slow`` (base class), plus
``html_page`` (200 with an HTML maintenance page instead of the file),
``reordered_columns`` (the history CSV with its columns in another order: the order has
changed over the years, e.g. ILS came after ZAR until 2016; here every column is reversed) and ``malformed_record`` (the newest USD cell of the history CSV
reads ``1.O85``). ``expired_token`` does not exist: the files are public.

This module must not import the connector: it is the other side of the wire.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import SandboxApp
from revops.sandbox.world import fx_published_at

PLATFORM = "ecb"
#: the sandbox serves the files under the same path as www.ecb.europa.eu
PREFIX = "/stats/eurofxref"
CET = ZoneInfo("Europe/Berlin")
#: the history CSV's header today, column for column (the trailing comma follows ZAR)
HIST_COLUMNS = (
    "USD", "JPY", "BGN", "CYP", "CZK", "DKK", "EEK", "GBP", "HUF", "LTL", "LVL", "MTL", "PLN",
    "ROL", "RON", "SEK", "SIT", "SKK", "CHF", "ISK", "NOK", "HRK", "RUB", "TRL", "TRY", "AUD",
    "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR", "NZD", "PHP", "SGD",
    "THB", "ZAR",
)
#: another column order: files from 2016 and earlier had ILS after ZAR; this vintage goes
#: further and reverses every column, so a reader that maps by position reads wrong rates
OTHER_HIST_COLUMNS = tuple(reversed(HIST_COLUMNS))
#: the days the 90-day files reach back
DAYS_90 = 90
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
GESMES_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
    'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
    "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
    "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
    "\t<Cube>\n"
)
GESMES_TAIL = "\t</Cube>\n</gesmes:Envelope>"


def _html(title: str, text: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )


class EcbSandbox(SandboxApp):
    platform = PLATFORM

    def routes(self) -> list[Rule]:
        return [
            Rule(f"{PREFIX}/eurofxref-hist.zip", endpoint="hist_zip"),
            Rule(f"{PREFIX}/eurofxref-hist.xml", endpoint="hist_xml"),
            Rule(f"{PREFIX}/eurofxref-hist-90d.xml", endpoint="hist_90d_xml"),
            Rule(f"{PREFIX}/eurofxref-daily.xml", endpoint="daily_xml"),
            Rule(f"{PREFIX}/eurofxref.zip", endpoint="daily_zip"),
        ]

    # --- auth and faults: public files ----------------------------------------------------
    def authorized(self, request: Request) -> bool:
        return True

    def not_found_response(self, request: Request) -> Response:
        return Response(_html("Page not found", "The page you requested does not exist."),
                        status=404, mimetype="text/html")

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind in ("reordered_columns", "malformed_record"):
            request.environ["ecb.fault"] = kind
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
            return getattr(self, endpoint)(request, **values)
        if kind == "rate_limit":
            return Response(_html("429 Too Many Requests", "Please retry later."), status=429,
                            mimetype="text/html", headers={"Retry-After": "30"})
        if kind == "server_error":
            return Response(_html("503 Service Unavailable", "The server is temporarily busy."),
                            status=503, mimetype="text/html")
        if kind == "html_page":
            return Response(
                _html("Maintenance", "The ECB website is undergoing maintenance."),
                status=200, mimetype="text/html",
            )
        raise NotImplementedError(f"ecb: no {kind!r} fault (the files are public)")

    # --- what was published at the clock ------------------------------------------------------
    def published(self) -> dict[date, dict[str, Decimal]]:
        """Day -> currency -> rate as published at ``as_of``, newest first."""
        rates = self.world.fx_published_as_of(self.as_of)
        return {d: rates[d] for d in sorted(rates, reverse=True)}

    def today(self) -> date:
        return self.as_of.astimezone(CET).date()

    def _last_modified(self, days: list[date]) -> dict[str, str]:
        if not days:
            return {}
        when = fx_published_at(max(days))
        return {"Last-Modified": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}

    # --- endpoints ----------------------------------------------------------------------
    def hist_zip(self, request: Request) -> Response:
        published = self.published()
        fault = request.environ.get("ecb.fault")
        columns = OTHER_HIST_COLUMNS if fault == "reordered_columns" else HIST_COLUMNS
        quoted = sorted({c for q in published.values() for c in q})
        columns = (*columns, *(c for c in quoted if c not in columns))
        lines = [",".join(("Date", *columns)) + ","]
        for i, (day, quotes) in enumerate(published.items()):
            cells = [_plain(quotes[c]) if c in quotes else "N/A" for c in columns]
            if fault == "malformed_record" and i == 0 and "USD" in quotes:
                cells[columns.index("USD")] = "1.O85"
            lines.append(",".join((day.isoformat(), *cells)) + ",")
        body = _zip("eurofxref-hist.csv", "\n".join(lines) + "\n", self.as_of)
        return self._file(body, "application/zip", list(published))

    def hist_xml(self, request: Request) -> Response:
        return self._xml(self.published())

    def hist_90d_xml(self, request: Request) -> Response:
        first = self.today() - timedelta(days=DAYS_90)
        return self._xml({d: q for d, q in self.published().items() if d > first})

    def daily_xml(self, request: Request) -> Response:
        published = self.published()
        return self._xml(dict(list(published.items())[:1]))

    def daily_zip(self, request: Request) -> Response:
        published = self.published()
        if not published:
            return self._file(_zip("eurofxref.csv", "", self.as_of), "application/zip", [])
        day, quotes = next(iter(published.items()))
        columns = [c for c in (*HIST_COLUMNS, *sorted(quotes)) if c in quotes]
        columns = list(dict.fromkeys(columns))
        header = ", ".join(("Date", *columns)) + ", "
        row = ", ".join((_long_date(day), *(str(quotes[c]) for c in columns))) + ", "
        body = _zip("eurofxref.csv", f"{header}\n{row}\n", self.as_of)
        return self._file(body, "application/zip", [day])

    def _xml(self, days: dict[date, dict[str, Decimal]]) -> Response:
        parts = [GESMES_HEAD]
        for day, quotes in days.items():
            parts.append(f"\t\t<Cube time='{day.isoformat()}'>\n")
            columns = [c for c in (*HIST_COLUMNS, *sorted(quotes)) if c in quotes]
            for cur in dict.fromkeys(columns):
                parts.append(f"\t\t\t<Cube currency='{cur}' rate='{quotes[cur]}'/>\n")
            parts.append("\t\t</Cube>\n")
        parts.append(GESMES_TAIL)
        return self._file("".join(parts).encode(), "text/xml", list(days))

    def _file(self, body: bytes, mimetype: str, days: list[date]) -> Response:
        return Response(body, mimetype=mimetype, headers=self._last_modified(days))

    # --- for the contract tests -------------------------------------------------------------
    def expected_keys(self, stream_name: str) -> set[tuple]:
        """Keys a correct connector holds at the clock: every rate published from START_DATE
        minus 14 days on (the sandbox env sets START_DATE to the world's start)."""
        if stream_name != "rates":
            raise KeyError(f"ecb has no stream {stream_name!r}")
        first = self.world.start - timedelta(days=14)
        return {
            (day.isoformat(), cur)
            for day, quotes in self.published().items()
            if day >= first
            for cur in quotes
        }


def _plain(rate: Decimal) -> str:
    """The history CSV writes numbers without trailing zeros: ``0.85``, ``134.2``."""
    return format(rate.normalize(), "f")


def _long_date(day: date) -> str:
    """``03 June 2021``, whatever the machine's locale."""
    return f"{day.day:02d} {MONTHS[day.month - 1]} {day.year}"


def _zip(name: str, text: str, as_of: datetime) -> bytes:
    buf = io.BytesIO()
    stamp = as_of.astimezone(CET)
    info = zipfile.ZipInfo(name, date_time=(stamp.year, stamp.month, stamp.day,
                                            stamp.hour, stamp.minute, stamp.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(info, text.encode())
    return buf.getvalue()
