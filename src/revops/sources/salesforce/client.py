"""HTTP client for the Salesforce REST API (OAuth 2.0 refresh-token flow).

Why each rule exists (Salesforce's status codes and error responses:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm; the
refresh token flow: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm):

* Auth: ``POST {login_url}/services/oauth2/token`` (form ``grant_type=refresh_token``,
  ``client_id``, ``client_secret``, ``refresh_token``) answers ``access_token`` and
  ``instance_url``, with no ``expires_in`` (the session lives as long as the org's session
  timeout). Every API call then goes to ``instance_url``. ``invalid_grant`` means the refresh
  token was revoked or rotated: fatal, naming ``REVOPS_SALESFORCE_REFRESH_TOKEN``.
* 401 ``INVALID_SESSION_ID`` "Session expired or invalid": refresh once and retry (the base
  client does that). "This session is not valid for use with the REST API" (IP restriction,
  high-assurance session) cannot be fixed by a refresh: fatal.
* 403 ``REQUEST_LIMIT_EXCEEDED``: "TotalRequests Limit exceeded." is the rolling 24-hour org
  limit, retrying now cannot help: :class:`RequestLimitExceeded` (fatal) stops the run, and
  the batches already yielded keep their state. "ConcurrentPerOrgLongTxn"/"ConcurrentRequests"
  clears when the long requests finish: retried.
* 5xx (``UNKNOWN_EXCEPTION``, 503 pages) and truncated bodies are transient.
* ``Sforce-Limit-Info: api-usage=N/M`` on every response: kept in ``stats`` and logged once
  past 90 %.
* JSON values are typed (numbers, booleans, null). Numbers are parsed as ``Decimal`` so the raw
  string keeps the digits Salesforce sent (``12340.0`` stays ``12340.0``).

Secrets (refresh token, client secret, access token) never enter a message or a log line.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from typing import Any

import requests

from revops.sources.errors import AuthExpiredError, FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient, retry_after_seconds

log = logging.getLogger(__name__)

SECRET_ENV = "REVOPS_SALESFORCE_REFRESH_TOKEN"
CLIENT_ENV = ("REVOPS_SALESFORCE_CLIENT_ID", "REVOPS_SALESFORCE_CLIENT_SECRET")
TOKEN_PATH = "/services/oauth2/token"
#: warn once the org has used this share of its rolling 24-hour request allowance
USAGE_WARN_SHARE = 0.9


class RequestLimitExceeded(FatalAPIError):
    """The org's rolling 24-hour API request limit is used up."""


class InvalidQueryLocator(FatalAPIError):
    """A ``nextRecordsUrl`` cursor died (cursors live 2 days; older orgs: 15 min)."""


class SalesforceClient(ApiClient):
    platform = "salesforce"
    secret_env = SECRET_ENV

    def __init__(
        self,
        login_url: str,
        *,
        client_id: str | None,
        client_secret: str | None,
        refresh_token: str | None,
        api_version: str = "v66.0",
        timeout: float = 60.0,
        max_retries: int = 5,
        max_backoff: float = 60.0,
    ):
        super().__init__(login_url, timeout=timeout, max_retries=max_retries,
                         max_backoff=max_backoff)
        self.login_url = login_url.rstrip("/")
        self.api_version = api_version if api_version.startswith("v") else f"v{api_version}"
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._access_token: str | None = None
        self._authenticating = False
        #: where the org lives; set by the token response
        self.instance_url: str | None = None
        self.stats["api_usage"] = 0
        self.stats["api_limit"] = 0
        self._warned_usage = False

    # --- auth ---------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if self._authenticating or not self._access_token:
            return {}
        return {"Authorization": f"Bearer {self._access_token}"}

    def authenticate(self) -> None:
        """Trade the refresh token for an access token and the org's ``instance_url``."""
        if not self._refresh_token:
            raise FatalAPIError(f"salesforce: no refresh token; set {SECRET_ENV}")
        if not self._client_id or not self._client_secret:
            raise FatalAPIError(
                f"salesforce: the connected app's {CLIENT_ENV[0]} and {CLIENT_ENV[1]} are needed "
                "to refresh the access token"
            )
        self._authenticating = True
        try:
            body = self.post_json(
                f"{self.login_url}{TOKEN_PATH}",
                data={
                    "grant_type": "refresh_token",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "refresh_token": self._refresh_token,
                },
                headers={"Accept": "application/json"},
            )
        finally:
            self._authenticating = False
        token, instance = body.get("access_token"), body.get("instance_url")
        if not token or not instance:
            raise FatalAPIError("salesforce: the token response has no access_token/instance_url")
        self._access_token = token
        self.instance_url = str(instance).rstrip("/")
        if body.get("refresh_token"):
            # refresh-token rotation: the old one is dead from now on
            self._refresh_token = body["refresh_token"]
            log.warning("salesforce: the org rotates refresh tokens; update %s with the new "
                        "one from your secret store after this run", SECRET_ENV)

    def refresh_auth(self) -> bool:
        self._access_token = None
        self.authenticate()
        return True

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not self._authenticating and self._access_token is None:
            self.authenticate()
        return super().request(method, url, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not url.startswith(("http://", "https://")):
            # API paths (and nextRecordsUrl) are relative to the instance, not the login server
            url = f"{self.instance_url or self.base_url}/{url.lstrip('/')}"
        return super()._send(method, url, **kwargs)

    # --- errors ---------------------------------------------------------------------------
    def classify(self, response: requests.Response) -> None:
        self._observe_usage(response)
        status = response.status_code
        if status < 400:
            return
        code, message = _error(response)
        if self._authenticating or response.url.endswith(TOKEN_PATH):
            self._classify_token_error(status, code, message)
        if status == 401:
            if "not valid for use with the REST API" in message:
                raise FatalAPIError(
                    f"salesforce: {message} (INVALID_SESSION_ID). The connected app's session "
                    "is restricted (IP ranges or high-assurance session policy): allow API "
                    "access for the integration user; a new token will not help"
                )
            raise AuthExpiredError(f"salesforce: HTTP 401 {code or 'unauthorized'}: {message}")
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            if "TotalRequests" in message:
                raise RequestLimitExceeded(
                    f"salesforce: the org's API request limit is used up ({message} "
                    f"api-usage={self.stats['api_usage']}/{self.stats['api_limit']}). The limit "
                    "is a rolling 24 hours, so retrying now cannot help; the pages already "
                    "loaded keep their sync state and the next run resumes from them"
                )
            raise RetriableAPIError(f"salesforce: {message} ({code})",
                                    retry_after=retry_after_seconds(response))
        if status == 429 or status >= 500:
            raise RetriableAPIError(f"salesforce: HTTP {status} {code} {message[:200]}".rstrip(),
                                    retry_after=retry_after_seconds(response))
        if code == "INVALID_QUERY_LOCATOR":
            raise InvalidQueryLocator(f"salesforce: {message} (INVALID_QUERY_LOCATOR)")
        raise FatalAPIError(f"salesforce: HTTP {status} {code}: {message[:500]}")

    def _classify_token_error(self, status: int, code: str, message: str) -> None:
        if status >= 500 or status == 429:
            raise RetriableAPIError(f"salesforce: login server HTTP {status}")
        if code == "invalid_grant":
            raise FatalAPIError(
                f"salesforce: the refresh token was refused ({code}: {message}); it was revoked, "
                f"rotated or belongs to another org or login server. Authorize the connected "
                f"app again and set {SECRET_ENV}"
            )
        if code in ("invalid_client_id", "invalid_client"):
            raise FatalAPIError(
                f"salesforce: the connected app was refused ({code}: {message}); check "
                f"{CLIENT_ENV[0]} and {CLIENT_ENV[1]}"
            )
        raise FatalAPIError(f"salesforce: token request failed: HTTP {status} {code}: {message}")

    def _observe_usage(self, response: requests.Response) -> None:
        info = response.headers.get("Sforce-Limit-Info", "")
        m = re.search(r"api-usage=(\d+)/(\d+)", info)
        if not m:
            return
        used, limit = int(m[1]), int(m[2])
        self.stats["api_usage"], self.stats["api_limit"] = used, limit
        if limit and used >= USAGE_WARN_SHARE * limit and not self._warned_usage:
            self._warned_usage = True
            log.warning("salesforce: %d of the org's %d daily API requests used", used, limit)

    # --- bodies ---------------------------------------------------------------------------
    def json(self, response: requests.Response) -> Any:
        """Numbers as Decimal (the digits as sent); a cut-off body is transient."""
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise RetriableAPIError(f"salesforce: malformed JSON body ({exc})") from exc

    # --- endpoints ------------------------------------------------------------------------
    def query_path(self, endpoint: str = "query") -> str:
        return f"/services/data/{self.api_version}/{endpoint}"


def _error(response: requests.Response) -> tuple[str, str]:
    """``(errorCode, message)`` from ``[{"message","errorCode"}]`` or an OAuth error object."""
    try:
        body = response.json()
    except ValueError:
        return "", (response.reason or "")
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
    if isinstance(body, dict):
        return str(body.get("error", "")), str(body.get("error_description", ""))
    return "", ""
