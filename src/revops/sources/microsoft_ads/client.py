"""HTTP client for the Microsoft Advertising API v13 (REST) and its OAuth token endpoint.

Why a client of its own rather than the generic one:

* auth is an OAuth2 **refresh-token** flow against the Microsoft identity platform; every call
  also carries ``DeveloperToken``, ``CustomerId`` and ``CustomerAccountId`` headers;
* errors are classified by the **code in the body**, not the HTTP status:
  ``{"TrackingId":…,"Type":"AdApiFaultDetail","Errors":[{"Code":109,"ErrorCode":…}]}`` or
  ``{"Type":"ApiFaultDetail","OperationErrors":[…],"BatchErrors":[…]}``;
  109 ``AuthenticationTokenExpired`` → refresh once and retry; 105/106 → fatal; 117
  ``CallRateExceeded`` → wait 60 s (capped); 207 ``ConcurrentRequestOverLimit`` and 0
  ``InternalError`` → retry;
* the token endpoint speaks OAuth errors instead (``{"error":"invalid_grant",…}``): a dead
  refresh token is fatal and names ``REVOPS_MICROSOFT_ADS_REFRESH_TOKEN``;
* the report download URL is a pre-signed storage URL on another host: it gets **no**
  ``Authorization`` header (the bearer token must not travel to a third host) and never appears
  in an exception message (its query string is a signature).

Sources: Microsoft Advertising docs
https://learn.microsoft.com/en-us/advertising/guides/handle-service-errors-exceptions,
https://learn.microsoft.com/en-us/advertising/guides/operation-error-codes and
https://learn.microsoft.com/en-us/advertising/guides/authentication-oauth-get-tokens
(MicrosoftDocs/Advertising-docs).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import requests

from revops.sources.errors import AuthExpiredError, FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient, retry_after_seconds

log = logging.getLogger(__name__)

SECRET_ENV = "REVOPS_MICROSOFT_ADS_REFRESH_TOKEN"
DEVELOPER_TOKEN_ENV = "REVOPS_MICROSOFT_ADS_DEVELOPER_TOKEN"
SCOPE = "https://ads.microsoft.com/msads.manage offline_access"

#: AdApiError / OperationError codes [guides/operation-error-codes.md]
CODE_INTERNAL_ERROR = 0
CODE_INVALID_CREDENTIALS = 105
CODE_USER_NOT_AUTHORIZED = 106
CODE_TOKEN_EXPIRED = 109
CODE_CALL_RATE_EXCEEDED = 117
CODE_CONCURRENT_REPORTS = 207
CODE_NO_COMPLETE_DATA = 2004
CODE_INVALID_REPORT_ID = 2100
RETRIABLE_CODES = frozenset({CODE_INTERNAL_ERROR, CODE_CONCURRENT_REPORTS, CODE_NO_COMPLETE_DATA})
#: CallRateExceeded: "wait 60 seconds" (sliding one-minute window), capped by max_backoff
CALL_RATE_WAIT_SECONDS = 60.0
#: OAuth error codes from the token endpoint that a retry can fix
TOKEN_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class InvalidReportIdError(FatalAPIError):
    """2100: the report request id expired or is unknown; submit the report again."""


class MicrosoftAdsClient(ApiClient):
    platform = "microsoft_ads"
    secret_env = SECRET_ENV

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        developer_token: str,
        customer_id: str | None,
        **kwargs: Any,
    ):
        super().__init__(token_url, **kwargs)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret or None
        self._refresh_token = refresh_token
        self._developer_token = developer_token
        self.customer_id = customer_id
        self._access_token: str | None = None
        #: refresh tokens Microsoft handed back during this run (the newest is used next)
        self.refresh_tokens_received = 0

    # --- auth ---------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if self._access_token is None:
            self._fetch_access_token()
        headers = {
            "Authorization": f"Bearer {self._access_token}",
            "DeveloperToken": self._developer_token,
        }
        if self.customer_id:
            headers["CustomerId"] = self.customer_id
        return headers

    def refresh_auth(self) -> bool:
        self._access_token = None
        self._fetch_access_token()
        return True

    def _fetch_access_token(self) -> None:
        """``grant_type=refresh_token`` → a new access token (about 1 h) and a new refresh token.

        The new refresh token replaces the old one for the rest of this process (Microsoft
        rotates them; the configured one stays valid until it expires, so nothing is written
        back: see README)."""
        form = {
            "client_id": self.client_id,
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "scope": SCOPE,
        }
        if self._client_secret:
            form["client_secret"] = self._client_secret
        body = self._with_body_retry("POST", self.token_url, data=form, _token=True)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise FatalAPIError(f"{self.platform}: the token endpoint returned no access_token")
        self._access_token = str(token)
        new_refresh = body.get("refresh_token")
        if new_refresh and new_refresh != self._refresh_token:
            self._refresh_token = str(new_refresh)
            self.refresh_tokens_received += 1
            log.info("%s: received a rotated refresh token (kept in memory for this run)", self.platform)

    def _scrub(self, text: str) -> str:
        """Never let a credential reach an exception message or a log line."""
        for secret in (self._access_token, self._refresh_token, self._developer_token, self._client_secret):
            if secret:
                text = text.replace(secret, "***")
        return text

    # --- sending ------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """The token endpoint and the pre-signed download URL get no API auth headers."""
        token_call = kwargs.pop("_token", False)
        anonymous = kwargs.pop("_anonymous", False)
        if not (token_call or anonymous):
            return super()._send(method, url, **kwargs)
        self.count("requests")
        response = self.transport(method, url, **kwargs)
        if token_call:
            self._classify_token(response)
        else:
            self._classify_download(response)
        return response

    def post_api(self, url: str, body: dict[str, Any], account_id: str | None = None) -> Any:
        """POST a JSON body to a v13 REST operation; ``account_id`` goes in CustomerAccountId."""
        headers = {"CustomerAccountId": account_id} if account_id else {}
        return self.post_json(url, json=body, headers=headers)

    def download(self, url: str) -> bytes:
        """GET the report file (no auth headers: the URL is pre-signed)."""
        return self.request("GET", url, _anonymous=True).content

    # --- classification ----------------------------------------------------------------
    def classify(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        errors, fault_type = _api_errors(response)
        where = f"{self.platform}: HTTP {response.status_code} on {_path(response)}"
        if not errors:
            if response.status_code == 429 or response.status_code >= 500:
                raise RetriableAPIError(f"{where} without an error body", retry_after_seconds(response))
            raise FatalAPIError(f"{where}: {self._scrub(response.text[:300])}")
        codes = {e[0] for e in errors}
        detail = self._scrub("; ".join(f"{code} {name}: {msg}" for code, name, msg in errors))
        if CODE_TOKEN_EXPIRED in codes:
            raise AuthExpiredError(f"{where}: {detail}")
        if CODE_INVALID_CREDENTIALS in codes:
            raise FatalAPIError(
                f"{where}: {detail}. The access token or the developer token was refused: renew "
                f"{SECRET_ENV} (a refresh token of a user with access) or check {DEVELOPER_TOKEN_ENV}"
            )
        if CODE_USER_NOT_AUTHORIZED in codes:
            raise FatalAPIError(
                f"{where}: {detail}. The user behind {SECRET_ENV} may not read this customer/"
                f"account: check REVOPS_MICROSOFT_ADS_CUSTOMER_ID and REVOPS_MICROSOFT_ADS_ACCOUNT_IDS"
            )
        if CODE_CALL_RATE_EXCEEDED in codes:
            hint = retry_after_seconds(response) or CALL_RATE_WAIT_SECONDS
            raise RetriableAPIError(f"{where}: throttled ({detail})", retry_after=hint)
        if codes & RETRIABLE_CODES:
            raise RetriableAPIError(f"{where}: transient ({detail})", retry_after_seconds(response))
        if CODE_INVALID_REPORT_ID in codes:
            raise InvalidReportIdError(f"{where}: {detail}")
        raise FatalAPIError(f"{where}: {fault_type or 'error'}: {detail}")

    def _classify_token(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        description = self._scrub(description.splitlines()[0] if description else "")
        where = f"{self.platform}: token endpoint HTTP {response.status_code}"
        if response.status_code == 429 or response.status_code >= 500 or error in TOKEN_TRANSIENT_ERRORS:
            raise RetriableAPIError(f"{where} {error}".rstrip(), retry_after_seconds(response))
        if error == "invalid_grant":
            raise FatalAPIError(
                f"{where}: invalid_grant ({description}). The refresh token is expired, revoked or "
                f"not issued to this client: sign in again and set {SECRET_ENV}"
            )
        raise FatalAPIError(
            f"{where}: {error or 'error'} ({description}); check REVOPS_MICROSOFT_ADS_CLIENT_ID, "
            f"REVOPS_MICROSOFT_ADS_CLIENT_SECRET and {SECRET_ENV}"
        )

    def _classify_download(self, response: requests.Response) -> None:
        """Azure storage answers for the download URL: 403/404 = the URL expired (resubmit)."""
        if response.status_code < 400:
            return
        where = f"{self.platform}: report download HTTP {response.status_code}"
        if response.status_code in (403, 404, 410):
            raise ReportUrlExpiredError(f"{where}: the download URL expired or is invalid")
        if response.status_code in (429, 503) or response.status_code >= 500:
            raise RetriableAPIError(f"{where}: storage busy", retry_after_seconds(response))
        raise FatalAPIError(f"{where}")


class ReportUrlExpiredError(FatalAPIError):
    """The pre-signed download URL expired (it lives 5 minutes): submit the report again."""


def _api_errors(response: requests.Response) -> tuple[list[tuple[int | None, str, str]], str | None]:
    """(code, error code, message) of every error in an AdApiFaultDetail/ApiFaultDetail body."""
    try:
        body = response.json()
    except ValueError:
        return [], None
    if not isinstance(body, dict):
        return [], None
    out: list[tuple[int | None, str, str]] = []
    for key in ("Errors", "OperationErrors", "BatchErrors"):
        for err in body.get(key) or []:
            if isinstance(err, dict):
                out.append((_as_int(err.get("Code")), str(err.get("ErrorCode", "")), str(err.get("Message", ""))))
    return out, body.get("Type")


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _path(response: requests.Response) -> str:
    """The operation path only: never a query string (a download URL's is a signature)."""
    return urlsplit(response.url or "").path
