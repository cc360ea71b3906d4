"""HTTP client for the Meta Marketing API (Graph API).

Meta's error handling is unusual, which is why this client exists rather than the generic one:

* throttling arrives as HTTP **400** with a Graph error code (4, 17, 32, 613, 80000-80014), not 429;
* the back-off hint is in the ``X-Business-Use-Case-Usage`` header, in **minutes**;
* a dead token (code 190) cannot be refreshed: Meta has no refresh token, a person must
  re-authorise, so it is fatal and the message says which variable to renew;
* "Please reduce the amount of data" (HTTP 500) is not transient: the same request fails again,
  so the pager halves ``limit`` instead of retrying as is.

Sources: Meta's rate limiting (https://developers.facebook.com/docs/graph-api/overview/rate-limiting)
and error codes (https://developers.facebook.com/docs/marketing-api/error-reference); airbyte
source-facebook-marketing ``streams/common.py`` and ``api.py``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from revops.sources.base import CursorRepeats
from revops.sources.errors import FatalAPIError, RetriableAPIError, SourceError
from revops.sources.http import ApiClient

log = logging.getLogger(__name__)


SECRET_ENV = "REVOPS_META_ACCESS_TOKEN"

#: Graph error codes that mean "throttled, wait and retry" (sent with HTTP 400)
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
#: other codes/subcodes Airbyte retries: temporary OAuth (2), batch timeout (960), reset (-1)
TRANSIENT_CODES = frozenset({2, 960, -1})
TRANSIENT_SUBCODES = frozenset({99})
#: "too much data": shrink the request (code, subcode or None for any subcode)
SHRINK_CODES = frozenset({(100, 1487534), (-3, 1504045)})
REDUCE_DATA_MESSAGE = "please reduce the amount of data"
#: usage headers whose values are percentages of a quota
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Ad-Account-Usage")
#: percent of any quota at which we pause before the next call (Airbyte: 95)
USAGE_PAUSE_PERCENT = 95.0
#: how long to pause when near the limit and Meta gives no regain time (capped by max_backoff)
USAGE_PAUSE_SECONDS = 60.0
#: Graph's page size when a request names none
DEFAULT_LIMIT = 25


class ReduceDataError(SourceError):
    """Meta refused the request as too large; retrying unchanged cannot help, a smaller one can."""


@dataclass(frozen=True)
class Usage:
    """The worst quota use Meta reported on a response."""

    max_percent: float = 0.0
    #: minutes until access is regained (Business Use Case header), 0 = not throttled
    regain_minutes: float = 0.0

    @property
    def near_limit(self) -> bool:
        return self.max_percent >= USAGE_PAUSE_PERCENT


def parse_usage(headers: Any) -> Usage:
    """Read Meta's usage headers; a malformed header is ignored (it only tunes the pace)."""
    percents: list[float] = []
    regain: list[float] = []
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            body = json.loads(raw)
        except ValueError:
            log.debug("meta: unparsable %s header", name)
            continue
        for entry in _usage_entries(body):
            for key, value in entry.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                if key == "estimated_time_to_regain_access":
                    regain.append(float(value))
                elif key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
                    percents.append(float(value))
    return Usage(max(percents, default=0.0), max(regain, default=0.0))


def _usage_entries(body: Any) -> Iterator[dict[str, Any]]:
    """Flatten ``{"<acct>":[{...}]}`` (business use case) and ``{...}`` (app, ad account)."""
    if isinstance(body, dict):
        if any(not isinstance(v, list | dict) for v in body.values()):
            yield body
        for value in body.values():
            if isinstance(value, list | dict):
                yield from _usage_entries(value)
    elif isinstance(body, list):
        for item in body:
            yield from _usage_entries(item)


@dataclass
class Page:
    """One page of a Graph edge: its rows, and whether it is the edge's last page."""

    data: list[dict[str, Any]]
    is_last: bool


class MetaClient(ApiClient):
    platform = "meta"

    def __init__(self, base_url: str, access_token: str, *, api_version: str, **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self._token = access_token
        self.api_version = api_version
        #: seconds to wait before the next call, set when a response showed usage >= 95 %
        self._pause_before_next = 0.0
        #: pauses taken because of high usage (seconds each): observable in tests and logs
        self.usage_pauses: list[float] = []
        self.last_usage = Usage()

    # --- auth ---------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _scrub(self, text: str) -> str:
        """Never let the token reach an exception message or a log line."""
        return text.replace(self._token, "***") if self._token else text

    # --- classification ----------------------------------------------------------------
    def classify(self, response: requests.Response) -> None:
        usage = parse_usage(response.headers)
        self.last_usage = usage
        if response.status_code < 400:
            if usage.near_limit:
                wait = usage.regain_minutes * 60 or USAGE_PAUSE_SECONDS
                self._pause_before_next = min(wait, self.max_backoff)
            return
        error = _graph_error(response)
        if error is None:
            self._classify_opaque(response)
            return
        code = _as_int(error.get("code"))
        subcode = _as_int(error.get("error_subcode"))
        message = self._scrub(str(error.get("message", "")))
        where = f"meta: HTTP {response.status_code}, code {code}, subcode {subcode}"
        if code == 190:
            raise FatalAPIError(
                f"{where}: the access token is expired or invalid ({message}). Meta has no "
                f"refresh token: create a new long-lived or system-user token with ads_read "
                f"and set {SECRET_ENV}"
            )
        if code in THROTTLE_CODES:
            hint = usage.regain_minutes * 60 if usage.regain_minutes > 0 else None
            raise RetriableAPIError(f"{where}: throttled ({message})", retry_after=hint)
        if REDUCE_DATA_MESSAGE in message.lower() or (code, subcode) in SHRINK_CODES:
            raise ReduceDataError(f"{where}: {message}")
        if (
            code in TRANSIENT_CODES
            or subcode in TRANSIENT_SUBCODES
            or error.get("is_transient") is True
            or response.status_code >= 500
        ):
            raise RetriableAPIError(f"{where}: transient ({message})")
        raise FatalAPIError(f"{where}: {message}")

    def _classify_opaque(self, response: requests.Response) -> None:
        """An error without a Graph body (a proxy, a load balancer): 5xx/429 retry, else stop."""
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableAPIError(f"meta: HTTP {response.status_code} without an error body")
        raise FatalAPIError(
            f"meta: HTTP {response.status_code}: {self._scrub(response.text[:300])}"
        )

    # --- sending ------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Honour a pending usage pause before any call (first tries and retries alike)."""
        if self._pause_before_next > 0:
            wait, self._pause_before_next = self._pause_before_next, 0.0
            self.usage_pauses.append(wait)
            log.warning("meta: usage at %.0f%%, pausing %.1fs", self.last_usage.max_percent, wait)
            time.sleep(wait)
        return super()._send(method, url, **kwargs)

    def path(self, *parts: str) -> str:
        """``/<version>/<parts...>``: the version lives in settings, never in code."""
        return "/".join([self.api_version, *parts])

    def get_object(self, path: str, fields: list[str]) -> dict[str, Any]:
        body = self.get_json(path, params={"fields": ",".join(fields)})
        if not isinstance(body, dict):
            raise FatalAPIError(f"meta: unexpected body for {path}: {type(body).__name__}")
        return body

    def iter_pages(self, path: str, params: dict[str, Any]) -> Iterator[Page]:
        """Follow ``paging.next`` until absent; halve ``limit`` when Meta asks for less data."""
        url: str = path
        query: dict[str, Any] | None = dict(params)
        cursors = CursorRepeats(f"meta: {path}", " (a Graph API bug: retry later)")
        while True:
            try:
                body = self.get_json(url, params=query)
            except ReduceDataError as exc:
                url, query = self._shrunk(url, query, exc)
                continue
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise FatalAPIError(f"meta: unexpected page shape from {path}")
            next_url = (body.get("paging") or {}).get("next")
            # an empty page with a next is not the end (follow it); a next that repeats the
            # cursor just read is the same page again (it merges on its key), but not forever
            cursors.follow(next_url)
            yield Page(body["data"], is_last=not next_url)
            if not next_url:
                return
            url, query = _without_token(next_url), None

    def _shrunk(
        self, url: str, query: dict[str, Any] | None, exc: ReduceDataError
    ) -> tuple[str, dict[str, Any] | None]:
        """The same request with half the page size (Airbyte's answer to the 500)."""
        if query is not None:
            limit = _halved(int(query.get("limit", DEFAULT_LIMIT)), exc)
            return url, {**query, "limit": limit}
        parts = urlsplit(url)
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit"]
        limit = _halved(int(dict(parse_qsl(parts.query)).get("limit", DEFAULT_LIMIT)), exc)
        return urlunsplit(parts._replace(query=urlencode([*pairs, ("limit", str(limit))]))), None


def _halved(limit: int, exc: ReduceDataError) -> int:
    if limit <= 1:
        raise FatalAPIError(f"{exc}; even limit=1 is too much: narrow the time range")
    log.warning("meta: %s; retrying with limit=%d", exc, limit // 2)
    return limit // 2


def _graph_error(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _without_token(url: str) -> str:
    """Meta's ``paging.next`` can embed ``access_token``; we send it as a header instead, so a
    logged URL never carries the secret."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs = [(k, v) for k, v in pairs if k != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(pairs)))
