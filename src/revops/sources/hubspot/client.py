"""HTTP client for the HubSpot CRM API (private-app token).

Why each rule exists (HubSpot's limits and error bodies:
https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details; see README.md):

* 429 ``TEN_SECONDLY_ROLLING`` (or the search endpoints' per-second limit) clears within seconds:
  retry, honouring ``Retry-After`` when HubSpot sends it (it often does not: then the base
  client's exponential backoff applies). 429 ``DAILY`` only resets at midnight: fatal.
* 5xx and truncated bodies are transient.
* 401 ``EXPIRED_AUTHENTICATION``/``INVALID_AUTHENTICATION``: a private-app token cannot be
  refreshed, so the run stops and says which variable to fix. The token never enters a message.
* 403 ``MISSING_SCOPES``: the app lacks a scope; HubSpot's message names it.
* Every response carries ``X-HubSpot-RateLimit-Remaining``; when it reaches (almost) zero the
  client waits one ``Interval-Milliseconds`` (capped by ``max_backoff``) instead of running
  into a 429.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient, retry_after_seconds

log = logging.getLogger(__name__)

SECRET_ENV = "REVOPS_HUBSPOT_ACCESS_TOKEN"
#: HubSpot search never returns more than this many results for one query (after + limit)
SEARCH_RESULT_CAP = 10_000
#: HubSpot streams read side by side (``HubSpotSource.stream_workers``), and requests of one
#: search window in flight at once (``streams.PAGE_READS``: the next page's search beside this
#: page's history or association batch reads)
STREAMS_AT_ONCE = 3
PAGE_READS = 4
#: the most requests the source has in flight at once
IN_FLIGHT = STREAMS_AT_ONCE * PAGE_READS
#: slow down when this few requests remain in the rolling window: as many as may be in flight
LOW_REMAINING = IN_FLIGHT


class HubSpotClient(ApiClient):
    platform = "hubspot"
    #: every request in flight keeps its connection (urllib3 drops the ones past its pool), with
    #: a window's worth of room to spare
    connections = IN_FLIGHT + PAGE_READS

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        max_backoff: float = 60.0,
        search_cap: int = SEARCH_RESULT_CAP,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(
            base_url, timeout=timeout, max_retries=max_retries, max_backoff=max_backoff
        )
        self._token = token
        #: results one search query may reach; the paging restarts before passing it
        self.search_cap = search_cap
        self._sleep = sleep
        #: no request is sent before this ``time.monotonic()`` (set from the rate-limit headers);
        #: every thread sending through the client waits for it, under ``_pace``
        self._resume_at = 0.0
        self._pace = threading.Lock()
        self.stats["throttled"] = 0

    # --- auth ---------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if not self._token:
            raise FatalAPIError(f"hubspot: no access token; set {SECRET_ENV} (a private-app token)")
        return {"Authorization": f"Bearer {self._token}"}

    # --- rate limits ----------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Wait out a nearly exhausted rate-limit window before sending. The streams read side
        by side, and a page's reads, share the client: one thread waits holding ``_pace`` and
        the others queue behind it, so none sends into the exhausted window (each waiting for
        a pause of its own would have let the rest run on into 429s)."""
        with self._pace:
            wait = min(self._resume_at - time.monotonic(), self.max_backoff)
            if wait > 0:
                self.count("throttled")
                log.info("hubspot: rate-limit window almost used up, waiting %.2fs", wait)
                self._sleep(wait)
                self._resume_at = 0.0
        return super()._send(method, url, **kwargs)

    def _observe_rate_headers(self, response: requests.Response) -> None:
        """After a good response only: a 429's own Retry-After (or the backoff) governs the
        wait after it, and pausing on top of that would wait twice."""
        remaining = _int_header(response, "X-HubSpot-RateLimit-Remaining")
        if remaining is None or remaining > LOW_REMAINING:
            return
        interval_ms = _int_header(response, "X-HubSpot-RateLimit-Interval-Milliseconds") or 10_000
        self._resume_at = max(self._resume_at, time.monotonic() + interval_ms / 1000)

    # --- errors ---------------------------------------------------------------------------
    def classify(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            self._observe_rate_headers(response)
            return
        body = _error_body(response)
        message = body.get("message") or response.reason or ""
        cid = body.get("correlationId")
        where = f"correlationId {cid}" if cid else "no correlationId"
        if status == 429:
            if str(body.get("policyName", "")).upper() == "DAILY":
                raise FatalAPIError(
                    f"hubspot: daily API limit reached ({message}); it resets at midnight in the "
                    f"portal's time zone, rerun after that ({where})"
                )
            raise RetriableAPIError(
                f"hubspot: rate limited ({body.get('policyName') or 'HTTP 429'})",
                retry_after=retry_after_seconds(response),
            )
        if status >= 500:
            raise RetriableAPIError(f"hubspot: HTTP {status} {message[:200]}".rstrip())
        category = str(body.get("category", ""))
        if status == 401 or category in ("EXPIRED_AUTHENTICATION", "INVALID_AUTHENTICATION"):
            state = "expired" if category == "EXPIRED_AUTHENTICATION" else "invalid"
            raise FatalAPIError(
                f"hubspot: the access token is {state} "
                f"(HTTP {status} {category or 'unauthorized'}). "
                f"A private-app token cannot be refreshed: create or rotate it in HubSpot and set "
                f"{SECRET_ENV}. ({where})"
            )
        if status == 403 and category == "MISSING_SCOPES":
            raise FatalAPIError(
                f"hubspot: the private app lacks a scope: {message} {_scope_detail(body)} "
                f"Grant the CRM read scopes to the app ({where})".replace("  ", " ")
            )
        raise FatalAPIError(f"hubspot: HTTP {status} {category}: {message} ({where})")

    # --- endpoints ------------------------------------------------------------------------
    def search(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_json(f"/crm/v3/objects/{object_type}/search", json=body)


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _error_body(response: requests.Response) -> dict[str, Any]:
    """HubSpot's JSON error body, or {} for an HTML gateway page or a cut-off body."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _scope_detail(body: dict[str, Any]) -> str:
    scopes: list[str] = []
    for err in body.get("errors") or []:
        ctx = err.get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            scopes += [str(s) for s in ctx.get(key) or []]
    return f"(required: {', '.join(scopes)})." if scopes else ""
