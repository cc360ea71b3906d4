"""HTTP client for the LinkedIn Marketing API (versioned REST, ``https://api.linkedin.com/rest``).

What is LinkedIn-specific, and why this client exists rather than the generic one:

* every call carries ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``;
  a sunset version answers **426** ``NONEXISTENT_VERSION``: fatal, naming
  ``REVOPS_LINKEDIN_VERSION`` (versions are monthly and live about a year);
* **Rest.li 2.0 query syntax**: ``dateRange=(start:(year:2026,month:6,day:1),...)`` and
  ``accounts=List(urn%3Ali%3AsponsoredAccount%3A1)`` keep ``():,`` unencoded and only the colons
  inside URNs percent-encoded. ``requests`` would encode the parentheses, so the query string is
  built here (:func:`restli_query`) and sent as part of the URL;
* 401 (``INVALID_ACCESS_TOKEN`` 65600, ``REVOKED_ACCESS_TOKEN`` 65601, the expired variant) is
  fatal: access tokens last 60 days and refresh tokens exist only for approved partners, so a
  person must re-authorise; the message names ``REVOPS_LINKEDIN_ACCESS_TOKEN``, never the token;
* 429 (quota, also sent for infrastructure protection) and 5xx are retried; 400/403 are fatal
  with LinkedIn's message.

Sources: Microsoft Learn, LinkedIn Marketing API versioning
(https://learn.microsoft.com/en-us/linkedin/marketing/versioning) and "Ads Reporting"
(https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting);
airbyte source-linkedin-ads ``BEHAVIOR.md`` (safe encoding ``():,%``, 20-field limit, no paging
on adAnalytics).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any
from urllib.parse import quote

import requests

from revops.sources.base import CursorRepeats
from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient, retry_after_seconds

log = logging.getLogger(__name__)

SECRET_ENV = "REVOPS_LINKEDIN_ACCESS_TOKEN"
VERSION_ENV = "REVOPS_LINKEDIN_VERSION"
RESTLI_VERSION = "2.0.0"
#: every entity status, so archived/completed/removed entities are not silently missed
CAMPAIGN_GROUP_STATUSES = (
    "ACTIVE", "PAUSED", "ARCHIVED", "CANCELED", "DRAFT", "PENDING_DELETION", "REMOVED",
)
CAMPAIGN_STATUSES = (
    "ACTIVE", "PAUSED", "ARCHIVED", "COMPLETED", "CANCELED", "DRAFT", "PENDING_DELETION", "REMOVED",
)
#: 401 bodies: serviceErrorCode / code
AUTH_CODES = frozenset({"INVALID_ACCESS_TOKEN", "REVOKED_ACCESS_TOKEN", "EXPIRED_ACCESS_TOKEN"})


def urn(kind: str, value: str | int) -> str:
    """``urn:li:<kind>:<id>`` (an id that already is a URN is kept)."""
    text = str(value)
    return text if text.startswith("urn:") else f"urn:li:{kind}:{text}"


def restli_list(values: Iterable[str]) -> str:
    """``List(a,b)`` with each element percent-encoded (a URN's colons become ``%3A``)."""
    return "List(" + ",".join(quote(v, safe="") for v in values) + ")"


def restli_date(d: date) -> str:
    return f"(year:{d.year},month:{d.month},day:{d.day})"


def restli_date_range(since: date, until: date) -> str:
    return f"(start:{restli_date(since)},end:{restli_date(until)})"


def restli_query(params: list[tuple[str, str]]) -> str:
    """The query string, values as given: callers pass Rest.li-encoded values."""
    return "&".join(f"{k}={v}" for k, v in params)


class LinkedInClient(ApiClient):
    platform = "linkedin"
    secret_env = SECRET_ENV

    def __init__(self, base_url: str, access_token: str, *, version: str, **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self._token = access_token
        self.version = version

    # --- auth ---------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": RESTLI_VERSION,
        }

    def _scrub(self, text: str) -> str:
        """Never let the token reach an exception message or a log line."""
        return text.replace(self._token, "***") if self._token else text

    # --- classification ----------------------------------------------------------------
    def classify(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        body = _error_body(response)
        code = str(body.get("code") or "")
        service = body.get("serviceErrorCode")
        message = self._scrub(str(body.get("message") or response.text[:300]))
        where = f"linkedin: HTTP {status}" + (f" {code}" if code else "") + (
            f" (serviceErrorCode {service})" if service is not None else ""
        )
        if status == 401 or code in AUTH_CODES:
            raise FatalAPIError(
                f"{where}: {message}. LinkedIn access tokens last 60 days and this app has no "
                f"refresh token: re-authorise a member with r_ads and r_ads_reporting and set "
                f"{SECRET_ENV}"
            )
        if status == 426 or code == "NONEXISTENT_VERSION":
            raise FatalAPIError(
                f"{where}: {message}. LinkedIn-Version {self.version} is sunset or unknown: set "
                f"{VERSION_ENV} to an active YYYYMM version"
            )
        if status == 429 or status >= 500:
            raise RetriableAPIError(f"{where}: {message}", retry_after=retry_after_seconds(response))
        raise FatalAPIError(f"{where}: {message}")

    # --- requests -----------------------------------------------------------------------
    def get_restli(
        self, path: str, params: list[tuple[str, str]], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """GET ``path?<params>`` with the query string built by hand (Rest.li encoding)."""
        url = f"{path}?{restli_query(params)}" if params else path
        body = self.get_json(url, headers=headers or {})
        if not isinstance(body, dict):
            raise FatalAPIError(f"linkedin: unexpected body for {path}: {type(body).__name__}")
        return body

    def iter_pages(
        self,
        path: str,
        params: list[tuple[str, str]],
        page_size: int,
        headers: dict[str, str] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Entity finders: ``pageSize``/``pageToken`` until ``metadata.nextPageToken`` is absent."""
        token: str | None = None
        cursors = CursorRepeats(f"linkedin: {path}")
        while True:
            query = [*params, ("pageSize", str(page_size))]
            if token is not None:
                query.append(("pageToken", quote(token, safe="")))
            body = self.get_restli(path, query, headers)
            elements = body.get("elements")
            if not isinstance(elements, list):
                raise FatalAPIError(f"linkedin: unexpected page shape from {path}")
            yield elements
            token = (body.get("metadata") or {}).get("nextPageToken")
            if not token:
                return
            # an empty page with a token is followed; a token that repeats the one just sent is
            # the same page again (it merges on its key), but a token looping forever stops
            cursors.follow(token)


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
