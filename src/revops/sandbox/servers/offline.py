"""A fake nginx folder of finance's offline-spend CSVs, serving the world as of ``self.as_of``.

What it reproduces (nginx 1.7.9+ ``autoindex on; autoindex_format json;`` behind a bearer-token
check), because connectors get it wrong:

* ``GET /offline-spend/`` is the JSON listing, nginx's exact shape: ``[`` CRLF ``{ "name":"…",
  "type":"file", "mtime":"Mon, 01 Jun 2026 10:00:00 GMT", "size":1234 }`` entries joined by
  ``,`` CRLF, ``]``; sorted by name;
* one CSV per month of bookings (``2026-06.csv``), as Excel's "CSV UTF-8" writes it: a BOM,
  CRLF line ends, RFC 4180 quoting, header ``date,channel,campaign,amount,currency``, amounts
  with ``.`` and two decimals; an event day is booked on **two lines** (booth + travel) that
  staging must sum;
* ``ETag: "<mtime hex>-<size hex>"`` and ``Last-Modified`` like nginx; ``If-None-Match`` gives
  304; a file's mtime is the last moment its content changed (a day appearing, or a
  provisional amount being replaced by the invoiced one two days later);
* errors as nginx HTML pages: 401 with ``WWW-Authenticate: Bearer … error="invalid_token"``
  (``error_description="The access token expired"`` for the ``expired_token`` fault), 429 with
  ``Retry-After``, 502 for ``server_error``.

Faults (``app.faults.add(kind, path=...)``): ``rate_limit``, ``server_error``, ``expired_token``,
``truncated`` and ``slow`` (base class), plus ``malformed_rows``: from the request it hits on,
the first month's file also holds four bad lines (bad date, non-numeric amount, bad currency
code, missing campaign); :meth:`OfflineSandbox.malformed_lines` says which. A test may also set
``extra_lines`` (lines appended to the first month's file as finance might type them: a credit
note, an impossible date, ...); :meth:`OfflineSandbox.extra_line_numbers` says where they landed.

This module must not import the connector: it is the other side of the wire.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.http import http_date
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import SandboxApp
from revops.sandbox.world import CENT, OFFLINE_CAMPAIGNS, PROVISIONAL_DAYS, AdDay

PLATFORM = "offline"
FOLDER = "/offline-spend/"
HEADER = ("date", "channel", "campaign", "amount", "currency")
#: share of an event day booked on its first line (the booth); the rest is travel
EVENT_FIRST_SHARE = Decimal("0.6")
#: (kind, line) appended to the first month's file in malformed mode
MALFORMED = (
    ("bad date", ("06/24/2026", "events", "SaaStr Annual 2026", "100.00", "USD")),
    ("non-numeric amount", ("2026-06-24", "events", "SaaStr Annual 2026", "1,200.00", "USD")),
    ("bad currency code", ("2026-06-24", "print", "Trade Journal Print", "500.00", "EURO")),
    ("missing campaign", ("2026-06-24", "print", "", "500.00", "EUR")),
)
_ORDER = {name: i for i, (name, _, _) in enumerate(OFFLINE_CAMPAIGNS)}


def nginx_page(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    body = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Response(body, status=status, headers=headers, mimetype="text/html")


class OfflineSandbox(SandboxApp):
    platform = PLATFORM

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: set by the ``malformed_rows`` fault (or directly by a test)
        self.malformed = False
        #: lines a test appends to the first month's file, as finance might type them (a credit
        #: note, an impossible date, ...): :meth:`extra_line_numbers` says where they landed
        self.extra_lines: list[tuple[str, ...]] = []

    # --- routing, auth, faults -------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule(FOLDER, endpoint="listing", methods=["GET", "HEAD"]),
            Rule(f"{FOLDER}<path:name>", endpoint="file", methods=["GET", "HEAD"]),
        ]

    def unauthorized_response(self, request: Request) -> Response:
        return nginx_page(401, "Authorization Required", {
            "WWW-Authenticate": 'Bearer realm="offline-spend", error="invalid_token"'})

    def not_found_response(self, request: Request) -> Response:
        return nginx_page(404, "Not Found")

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "rate_limit":
            return nginx_page(429, "Too Many Requests", {"Retry-After": "1"})
        if kind == "server_error":
            return nginx_page(502, "Bad Gateway")
        if kind == "expired_token":
            return nginx_page(401, "Authorization Required", {"WWW-Authenticate": (
                'Bearer realm="offline-spend", error="invalid_token", '
                'error_description="The access token expired"')})
        if kind == "malformed_rows":
            self.malformed = True
            return self._serve(request)
        raise NotImplementedError(kind)

    def _serve(self, request: Request) -> Response:
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        except NotFound:
            return self.not_found_response(request)
        except HTTPException as exc:
            return exc.get_response(request.environ)  # type: ignore[return-value]
        if not self.authorized(request):
            return self.unauthorized_response(request)
        return getattr(self, endpoint)(request, **values)

    # --- endpoints -------------------------------------------------------------------------
    def listing(self, request: Request) -> Response:
        entries = [
            "{ \"name\":%s, \"type\":\"file\", \"mtime\":\"%s\", \"size\":%d }"
            % (json.dumps(name, ensure_ascii=False), http_date(mtime), len(body))
            for name, (body, mtime) in sorted(self.files().items())
        ]
        body = "[" + ",".join("\r\n" + e for e in entries) + "\r\n]"
        return Response(body, mimetype="application/json")

    def file(self, request: Request, name: str) -> Response:
        files = self.files()
        if name not in files:
            return self.not_found_response(request)
        body, mtime = files[name]
        response = Response(body, mimetype="text/csv", headers={
            "ETag": f'"{int(mtime.timestamp()):x}-{len(body):x}"',
            "Last-Modified": http_date(mtime),
        })
        return response.make_conditional(request)

    # --- the world as CSV files ------------------------------------------------------------
    def rows(self) -> list[AdDay]:
        rows = self.world.ad_days_as_of(self.as_of, PLATFORM)
        return sorted(rows, key=lambda r: (r.day, _ORDER.get(self._camp(r).name, 99)))

    def _camp(self, row: AdDay):
        return self.world.campaign_by_id[row.ad.campaign_id]

    def _lines(self, row: AdDay) -> list[tuple[str, ...]]:
        camp = self._camp(row)
        name, currency = camp.name_as_of(self.as_of), self.world.currency_of(row.ad)
        amounts = [row.spend]
        if camp.objective == "events":
            first = (row.spend * EVENT_FIRST_SHARE).quantize(CENT)
            amounts = [first, row.spend - first]
        return [(row.day.isoformat(), camp.objective, name, f"{a:.2f}", currency) for a in amounts]

    def _changed_at(self, row: AdDay) -> datetime:
        """When this row's content last changed, as of ``as_of``: it appeared at midnight of
        its day, and its provisional amount was replaced ``PROVISIONAL_DAYS`` later."""
        tz = ZoneInfo(self.world.account_by_id[(PLATFORM, row.ad.account_id)].day_zone)
        appeared = datetime.combine(row.day, time(0), tzinfo=tz).astimezone(UTC)
        final = datetime.combine(row.day + timedelta(days=PROVISIONAL_DAYS), time(0), tzinfo=tz)
        final = final.astimezone(UTC)
        return final if final <= self.as_of else appeared

    def file_lines(self) -> dict[str, list[tuple[str, ...]]]:
        """Month file name -> its data lines (without the header)."""
        out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for row in self.rows():
            out[f"{row.day:%Y-%m}.csv"] += self._lines(row)
        if self.malformed and out:
            out[min(out)] += [line for _, line in MALFORMED]
        if self.extra_lines and out:
            out[min(out)] += [tuple(line) for line in self.extra_lines]
        return dict(out)

    def files(self) -> dict[str, tuple[bytes, datetime]]:
        """Month file name -> (bytes, mtime to the second)."""
        changed: dict[str, datetime] = {}
        for row in self.rows():
            name = f"{row.day:%Y-%m}.csv"
            at = self._changed_at(row)
            changed[name] = max(changed.get(name, at), at)
        out = {}
        for name, lines in self.file_lines().items():
            buf = io.StringIO(newline="")
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(HEADER)
            writer.writerows(lines)
            mtime = changed[name].replace(microsecond=0)
            if (self.malformed or self.extra_lines) and name == min(changed):
                mtime += timedelta(seconds=1)
            out[name] = (b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"), mtime)
        return out

    def malformed_lines(self) -> dict[tuple[str, int], str]:
        """(file, line number) -> what is wrong with it, in malformed mode."""
        lines = self.file_lines()
        if not self.malformed or not lines:
            return {}
        first = min(lines)
        start = len(lines[first]) - len(MALFORMED) + 2  # header is line 1
        return {(first, start + i): kind for i, (kind, _) in enumerate(MALFORMED)}

    def extra_line_numbers(self) -> list[tuple[str, int]]:
        """(file, line number) of each of :attr:`extra_lines`, in order."""
        lines = self.file_lines()
        if not self.extra_lines or not lines:
            return []
        first = min(lines)
        start = len(lines[first]) - len(self.extra_lines) + 2  # header is line 1
        return [(first, start + i) for i in range(len(self.extra_lines))]

    def expected_keys(self, stream_name: str) -> set[tuple]:
        lines = self.file_lines()
        if stream_name == "spend_lines":
            return {(name, str(i + 2)) for name, rows in lines.items() for i in range(len(rows))}
        if stream_name == "files":
            return {(name,) for name in lines}
        raise KeyError(stream_name)
