"""HTTP client for the Google Ads API REST interface (``googleAds:searchStream`` with GAQL).

What makes Google Ads different from the generic client:

* **OAuth2 refresh-token flow**: we hold a refresh token (``REVOPS_GOOGLE_ADS_REFRESH_TOKEN``)
  and mint short-lived access tokens (``expires_in`` 3599 s) at the token endpoint. An access
  token that expires mid-run (401 ``UNAUTHENTICATED``, ``authenticationError:
  OAUTH_TOKEN_EXPIRED``) is refreshed once and the request resent; a refresh token Google
  refuses (400 ``invalid_grant``) is fatal and names the variable to renew.
* errors are a ``google.rpc.Status`` whose ``details`` hold a ``GoogleAdsFailure`` with
  ``errorCode`` = ``{"<category>": "<NAME>"}``; the category decides retry or stop;
* ``searchStream`` answers a **JSON array of chunks**, and an error can be an *element of that
  array* after a 200 (the stream broke after it started): every chunk is checked;
* quota errors (429 ``RESOURCE_EXHAUSTED``) carry their wait in
  ``details.quotaErrorDetails.retryDelay`` (``"60s"``), not in a Retry-After header.

Sources: Google Ads API docs "Understand API errors"
(https://developers.google.com/google-ads/api/docs/best-practices/understand-api-errors),
access levels and quota (https://developers.google.com/google-ads/api/docs/api-policy/access-levels),
OAuth refresh (https://developers.google.com/identity/protocols/oauth2/web-server#offline); real
429 bodies in PipedreamHQ/pipedream#21554; UNSUPPORTED_VERSION body in
google-marketing-solutions/adios#47.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from revops.sources.errors import AuthExpiredError, FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient

log = logging.getLogger(__name__)

SECRET_ENV = "REVOPS_GOOGLE_ADS_REFRESH_TOKEN"
VERSION_ENV = "REVOPS_GOOGLE_ADS_API_VERSION"
LOGIN_CUSTOMER_ENV = "REVOPS_GOOGLE_ADS_LOGIN_CUSTOMER_ID"
CUSTOMERS_ENV = "REVOPS_GOOGLE_ADS_CUSTOMER_IDS"

#: authenticationError codes that mean "this access token is no good: mint another one"
EXPIRED_TOKEN_CODES = frozenset({"OAUTH_TOKEN_EXPIRED", "OAUTH_TOKEN_INVALID", "OAUTH_TOKEN_REVOKED"})
#: errorCode values worth retrying (besides quotaError and HTTP 5xx)
TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "TRANSIENT_ERROR", "DEADLINE_EXCEEDED",
                             "RESOURCE_TEMPORARILY_EXHAUSTED"})
#: google.rpc status names worth retrying
TRANSIENT_STATUSES = frozenset({"INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED",
                                "ABORTED"})
#: a quota wait longer than this is the daily operations quota, not a per-minute one: retrying
#: within a run cannot help (PostHog/posthog#64609 found the same)
DAILY_QUOTA_SECONDS = 3600.0
#: refresh the access token this long before Google says it expires
EXPIRY_MARGIN_SECONDS = 60.0

#: what to fix, per fatal errorCode
FIXES = {
    "USER_PERMISSION_DENIED": (
        "the OAuth user cannot reach this customer: if it is reached through a manager account, "
        f"set {LOGIN_CUSTOMER_ENV} to the manager's id (digits only); otherwise grant the user "
        f"access or remove the id from {CUSTOMERS_ENV}"
    ),
    "CUSTOMER_NOT_ENABLED": (
        f"the customer is cancelled, suspended or not yet set up: remove it from {CUSTOMERS_ENV}"
    ),
    "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION": (
        "the OAuth client's Google Cloud project has no production access to the Google Ads API: "
        "apply for it in the API Center"
    ),
    "DEVELOPER_TOKEN_NOT_APPROVED": "the developer token may only reach test accounts",
    "UNSUPPORTED_VERSION": f"the API version is sunset: set {VERSION_ENV} to a live one",
    "NOT_ADS_USER": "the OAuth user has no Google Ads account",
}


@dataclass(frozen=True)
class AdsError:
    """One ``GoogleAdsError`` of a failure: category and name of its ``errorCode``."""

    category: str
    code: str
    message: str
    retry_delay: float | None = None


@dataclass(frozen=True)
class Failure:
    """A Google error body: ``google.rpc.Status`` plus its GoogleAdsFailure errors."""

    http: int
    status: str
    message: str
    errors: tuple[AdsError, ...]
    request_id: str | None

    def codes(self) -> set[str]:
        return {e.code for e in self.errors}

    def categories(self) -> set[str]:
        return {e.category for e in self.errors}


def parse_failure(http: int, body: Any) -> Failure | None:
    """Read ``{"error": {...}}`` (or a searchStream array holding one); None if it is not one."""
    if isinstance(body, list):
        body = next((c for c in body if isinstance(c, dict) and "error" in c), None)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    errors: list[AdsError] = []
    request_id = None
    for detail in error.get("details") or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("GoogleAdsFailure"):
            continue
        request_id = detail.get("requestId") or request_id
        for item in detail.get("errors") or []:
            code = item.get("errorCode") or {}
            category, name = next(iter(code.items()), ("unknown", "UNKNOWN"))
            quota = (item.get("details") or {}).get("quotaErrorDetails") or {}
            errors.append(
                AdsError(str(category), str(name), str(item.get("message", "")),
                         parse_duration(quota.get("retryDelay")))
            )
    return Failure(
        http=int(error.get("code") or http),
        status=str(error.get("status", "")),
        message=str(error.get("message", "")),
        errors=tuple(errors),
        request_id=request_id,
    )


def parse_duration(value: Any) -> float | None:
    """A protobuf Duration in JSON (``"60s"``, ``"1.5s"``) as seconds."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        return max(0.0, float(value[:-1]))
    except ValueError:
        return None


class GoogleAdsClient(ApiClient):
    platform = "google_ads"
    secret_env = SECRET_ENV

    def __init__(
        self,
        base_url: str,
        *,
        api_version: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        developer_token: str | None = None,
        login_customer_id: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(base_url, **kwargs)
        self.api_version = api_version
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._developer_token = developer_token or None
        self.login_customer_id = (login_customer_id or "").replace("-", "") or None
        self._access_token: str | None = None
        self._expires_at = 0.0
        #: access tokens minted this run (the first one included)
        self.mints = 0

    # --- auth ---------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if self._access_token is None or time.monotonic() >= self._expires_at:
            self._mint()
        headers = {"Authorization": f"Bearer {self._access_token}"}
        if self._developer_token:  # optional since the 2026-09-09 sunset; harmless when sent
            headers["developer-token"] = self._developer_token
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id
        return headers

    def refresh_auth(self) -> bool:
        self._access_token = None
        self._mint()
        return True

    def _mint(self) -> None:
        """POST the refresh token to the token endpoint; transient failures are retried."""
        retrying = Retrying(
            retry=retry_if_exception_type((RetriableAPIError, requests.ConnectionError, requests.Timeout)),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        body = retrying(self._token_request)
        self._access_token = str(body["access_token"])
        self._expires_at = time.monotonic() + float(body.get("expires_in", 3599)) - EXPIRY_MARGIN_SECONDS
        self.mints += 1

    def _token_request(self) -> dict[str, Any]:
        data = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        response = self.transport("POST", self.token_url, data=data)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(f"google_ads: token endpoint HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise RetriableAPIError("google_ads: token endpoint sent a malformed body") from exc
        if response.status_code >= 400 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "?") if isinstance(body, dict) else "?"
            described = body.get("error_description", "") if isinstance(body, dict) else ""
            if error == "invalid_client":
                fix = ("the OAuth client is unknown or its secret is wrong: check "
                       "REVOPS_GOOGLE_ADS_CLIENT_ID and REVOPS_GOOGLE_ADS_CLIENT_SECRET")
            else:  # invalid_grant: expired (7 days in "Testing" apps) or revoked
                fix = f"re-authorise the app and set {SECRET_ENV} to the new refresh token"
            raise FatalAPIError(
                self._scrub(f"google_ads: token refresh refused (HTTP {response.status_code}, "
                            f"{error}: {described}); {fix}")
            )
        return body

    def _scrub(self, text: str) -> str:
        """Never let a credential reach an exception message or a log line."""
        for secret in (self._refresh_token, self._client_secret, self._access_token, self._developer_token):
            if secret:
                text = text.replace(secret, "***")
        return text

    # --- classification ----------------------------------------------------------------
    def classify(self, response: requests.Response) -> None:
        body: Any = None
        try:  # orjson, as ApiClient.json: requests' json() (simplejson here) was 3 % of a night's CPU
            body = orjson.loads(response.content)
        except ValueError:
            pass  # a truncated 200 is the body parser's business (retried there)
        response._revops_json = body  # type: ignore[attr-defined]  # parse once
        if response.status_code < 400:
            if isinstance(body, list):
                failure = parse_failure(response.status_code, body)
                if failure is not None:  # the stream broke after it started
                    self.raise_for(failure, in_stream=True)
            return
        failure = parse_failure(response.status_code, body)
        if failure is None:
            self._classify_opaque(response)
            return
        self.raise_for(failure)

    def raise_for(self, failure: Failure, *, in_stream: bool = False) -> None:
        codes = failure.codes()
        detail = "; ".join(f"{e.category}: {e.code} ({e.message})" for e in failure.errors) or failure.message
        where = (f"google_ads: HTTP {failure.http} {failure.status}"
                 f"{' inside the stream' if in_stream else ''}"
                 f"{f', request {failure.request_id}' if failure.request_id else ''}")
        detail = self._scrub(detail)
        if codes & EXPIRED_TOKEN_CODES or (failure.http == 401 and not codes):
            raise AuthExpiredError(f"{where}: {detail}")
        if "quotaError" in failure.categories() or failure.http == 429:
            delay = max((e.retry_delay for e in failure.errors if e.retry_delay is not None), default=None)
            if delay is not None and delay > DAILY_QUOTA_SECONDS:
                raise FatalAPIError(
                    f"{where}: {detail}. The daily operations quota is used up; it frees in "
                    f"{delay / 3600:.1f} h. Run later or ask for a higher access level."
                )
            raise RetriableAPIError(f"{where}: quota ({detail})", retry_after=delay)
        if codes & TRANSIENT_CODES or failure.status in TRANSIENT_STATUSES or failure.http >= 500:
            raise RetriableAPIError(f"{where}: transient ({detail})")
        fixes = [FIXES[c] for c in sorted(codes) if c in FIXES]
        if "queryError" in failure.categories():
            fixes.append("the connector's GAQL query is wrong for this API version")
        suffix = f". To fix: {'; '.join(fixes)}" if fixes else ""
        raise FatalAPIError(f"{where}: {detail}{suffix}")

    def _classify_opaque(self, response: requests.Response) -> None:
        """An error without a Google body: a proxy, or the front end's HTML 404 for a version
        that is sunset or not released yet."""
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableAPIError(f"google_ads: HTTP {response.status_code} without an error body")
        if response.status_code == 404:
            raise FatalAPIError(
                f"google_ads: HTTP 404 for /{self.api_version}/...: the API version is sunset or "
                f"not released (or the base URL is wrong); set {VERSION_ENV} to a live version"
            )
        if response.status_code == 401:
            raise AuthExpiredError("google_ads: HTTP 401 without an error body")
        raise FatalAPIError(f"google_ads: HTTP {response.status_code}: {self._scrub(response.text[:300])}")

    def json(self, response: requests.Response) -> Any:
        cached = getattr(response, "_revops_json", None)
        return cached if cached is not None else super().json(response)

    # --- searchStream -------------------------------------------------------------------
    def search_stream(self, customer_id: str, query: str) -> list[dict[str, Any]]:
        """All result rows of a GAQL query, across the stream's chunks (a chunk may have no
        ``results`` key at all: empty repeated fields are omitted)."""
        path = f"{self.api_version}/customers/{customer_id}/googleAds:searchStream"
        body = self.post_json(path, json={"query": query})
        if not isinstance(body, list):
            raise FatalAPIError(f"google_ads: searchStream sent {type(body).__name__}, not an array")
        rows: list[dict[str, Any]] = []
        for chunk in body:
            if not isinstance(chunk, dict):
                raise FatalAPIError("google_ads: searchStream chunk is not an object")
            rows.extend(chunk.get("results") or [])
        return rows
