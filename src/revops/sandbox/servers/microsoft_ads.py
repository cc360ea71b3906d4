"""A fake Microsoft Advertising API v13 (REST) + identity platform token endpoint + report
storage, all on one server, serving the synthetic world in Microsoft's wire format.

It shows the world as of ``self.as_of``. What it reproduces, because connectors get it wrong
(see src/revops/sources/microsoft_ads/README.md and https://learn.microsoft.com/en-us/advertising/guides/):

* OAuth2 refresh-token flow (``POST /common/oauth2/v2.0/token``, form-encoded): a new access
  token *and a new refresh token* on each call; a wrong refresh token → 400 ``invalid_grant``;
* every API call needs ``Authorization: Bearer``, ``DeveloperToken``, ``CustomerId`` and
  ``CustomerAccountId`` headers; errors are ``AdApiFaultDetail`` bodies (105, 106, 109, 117, 0)
  or ``ApiFaultDetail`` with ``OperationErrors`` (207, 2003, 2034, 2040, 2100);
* ids are JSON numbers in entity bodies; ``TimeZone`` is an enum (``PacificTimeUSCanadaTijuana``);
  ``Campaigns/QueryByAccountId`` without ``CampaignType`` returns Search campaigns only;
* the async report: Submit → ``{"ReportRequestId"}``; Poll → ``Pending|Success|Error`` with a
  ``ReportDownloadUrl`` that lives **5 minutes** (``Success`` with a null URL = no rows);
  ``Aggregation`` defaults to Summary and ``Daily`` is ignored unless ``TimePeriod`` is a
  column; Summary *with* TimePeriod is error 2034;
* the download: a ZIP holding one CSV, UTF-8 with BOM, every value quoted, 9 metadata lines,
  a blank line, the header, data rows, a blank line, the ``"@2026 Microsoft Corporation. All
  rights reserved. "`` footer; days are **UTC days** (``AdAccount.report_day_zone``);
  ``Spend`` with two decimals, ``ConversionsQualified`` a double, ``Revenue`` 0.00.

Faults (``app.faults.add(kind, path=...)``): ``rate_limit`` (117, or 429 at the token
endpoint, 503 at storage), ``server_error`` (0 InternalError / 500), ``expired_token`` (109; the
token endpoint and storage have no access token and answer normally), ``truncated``, ``slow``;
extras: ``report_pending`` (Poll answers Pending), ``report_error`` (the polled report fails
for good: Status Error), ``concurrent_limit`` (Submit: 207), ``empty_report`` (Poll: Success
with a null URL), ``expired_url`` (download: storage 403 AuthenticationFailed). An extra that
lands on an endpoint it does not apply to is consumed and the request served normally.

This module must not import the connector: it is the other side of the wire.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
import time as wall
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import SandboxApp, json_response
from revops.sandbox.world import AdAccount, AdDay

PLATFORM = "microsoft_ads"
#: fixed sandbox identifiers handed to the connector by ``revops.sandbox.registry``
CUSTOMER_ID = "251830467"
CLIENT_ID = "5f2c6d0e-sandbox-client"
DEVELOPER_TOKEN = "SBX-DEVTOKEN-1234"
TOKEN_PATH = "/common/oauth2/v2.0/token"
#: how long a download URL is valid (seconds of real time)
DOWNLOAD_URL_SECONDS = 300
#: Account TimeZone enum values of the IANA zones the world uses
TIMEZONE_ENUM = {
    "America/Los_Angeles": "PacificTimeUSCanadaTijuana",
    "America/New_York": "EasternTimeUSCanada",
    "Europe/London": "GreenwichMeanTimeDublinEdinburghLisbonLondon",
    "Europe/Berlin": "AmsterdamBerlinBernRomeStockholmVienna",
    "UTC": "GreenwichMeanTimeDublinEdinburghLisbonLondon",
}
REPORT_TIME_ZONE_LABEL = {
    "PacificTimeUSCanadaTijuana": "(GMT-08:00) Pacific Time (US & Canada); Tijuana",
    "EasternTimeUSCanada": "(GMT-05:00) Eastern Time (US & Canada)",
}
REPORT_COLUMNS = frozenset({
    "TimePeriod", "AccountId", "AccountName", "AccountNumber", "CampaignId", "CampaignName",
    "CampaignStatus", "AdGroupId", "AdGroupName", "AdId", "AdTitle", "AdType", "CurrencyCode",
    "Impressions", "Clicks", "Spend", "Conversions", "ConversionsQualified", "Revenue", "Ctr",
    "AverageCpc", "FinalUrl", "FinalUrlSuffix", "TrackingTemplate",
})
#: the URL parameters every sandbox ad's final URL suffix carries besides utm_campaign
URL_SUFFIX_PREFIX = "utm_source=bing&utm_medium=cpc"
FOOTER = "@2026 Microsoft Corporation. All rights reserved. "
EXTRAS = {
    "report_pending": "/GenerateReport/Poll",
    "report_error": "/GenerateReport/Poll",
    "empty_report": "/GenerateReport/Poll",
    "concurrent_limit": "/GenerateReport/Submit",
    "expired_url": "/reports/",
}


class AdsError(Exception):
    """An API error, rendered as Microsoft's REST fault body."""

    def __init__(self, code: int, error_code: str, message: str, status: int = 400,
                 operation: bool = False):
        super().__init__(message)
        self.code, self.error_code, self.message = code, error_code, message
        self.status, self.operation = status, operation

    def response(self, headers: dict[str, str] | None = None) -> Response:
        error = {"Code": self.code, "Details": None, "ErrorCode": self.error_code,
                 "Message": self.message}
        tracking = str(uuid.uuid4())
        if self.operation:
            body = {"TrackingId": tracking, "Type": "ApiFaultDetail", "BatchErrors": [],
                    "OperationErrors": [error]}
        else:
            body = {"TrackingId": tracking, "Type": "AdApiFaultDetail", "Errors": [error]}
        return json_response(body, self.status, headers)


def invalid_credentials() -> AdsError:
    return AdsError(105, "InvalidCredentials",
                    "Authentication failed. Either supplied credentials are invalid or the account "
                    "is inactive.", 401)


def not_authorized() -> AdsError:
    return AdsError(106, "UserIsNotAuthorized", "The user is not authorized to perform this action.", 403)


class MicrosoftAdsSandbox(SandboxApp):
    platform = PLATFORM

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._access_tokens: set[str] = set()
        self._refresh_tokens: set[str] = {self.token}
        #: report request id -> {"account", "rows", "failed", "sig", "name", ...}
        self.reports: dict[str, dict[str, Any]] = {}
        #: the form of every token request, in order (the request log holds JSON bodies only)
        self.token_forms: list[dict[str, str]] = []

    # --- routing, auth, faults -------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule(TOKEN_PATH, endpoint="oauth_token", methods=["POST"]),
            Rule("/CustomerManagement/v13/Account/Query", endpoint="account", methods=["POST"]),
            Rule("/CampaignManagement/v13/Campaigns/QueryByAccountId", endpoint="campaigns",
                 methods=["POST"]),
            Rule("/Reporting/v13/GenerateReport/Submit", endpoint="submit", methods=["POST"]),
            Rule("/Reporting/v13/GenerateReport/Poll", endpoint="poll", methods=["POST"]),
            Rule("/reports/<report_id>.zip", endpoint="download", methods=["GET"]),
        ]

    def _anonymous(self, request: Request) -> bool:
        """The token endpoint and the storage URL take no API credentials."""
        return request.path == TOKEN_PATH or request.path.startswith("/reports/")

    def authorized(self, request: Request) -> bool:
        if self._anonymous(request):
            return True
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        with self._lock:
            known = token in self._access_tokens
        return known and request.headers.get("DeveloperToken") == DEVELOPER_TOKEN

    def unauthorized_response(self, request: Request) -> Response:
        return invalid_credentials().response()

    def not_found_response(self, request: Request) -> Response:
        return json_response({"Message": f"No HTTP resource was found that matches {request.path}"}, 404)

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind in EXTRAS:
            if EXTRAS[kind] not in request.path:
                return self._serve(request)
            request.environ["msads.fault"] = kind
            return self._serve(request)
        if request.path == TOKEN_PATH:
            return self._token_fault(kind, request)
        if request.path.startswith("/reports/"):
            return self._storage_fault(kind, request)
        if kind == "rate_limit":
            return AdsError(117, "CallRateExceeded",
                            "You have exceeded the number of calls that you are allowed to make in "
                            "a minute. Please reduce the number of calls that you make per minute.",
                            429).response()
        if kind == "server_error":
            return AdsError(0, "InternalError", "An internal error has occurred.", 500).response()
        if kind == "expired_token":
            return AdsError(109, "AuthenticationTokenExpired",
                            "Authentication token expired. Please renew it or obtain a new token.",
                            401).response()
        raise NotImplementedError(kind)

    def _token_fault(self, kind: str, request: Request) -> Response:
        if kind == "rate_limit":
            return _oauth_error("temporarily_unavailable", "AADSTS90033: Request throttled.", 429,
                                {"Retry-After": "1"})
        if kind == "server_error":
            return _oauth_error("server_error", "AADSTS90014: Internal server error.", 500)
        return self._serve(request)  # expired_token: the token endpoint takes no access token

    def _storage_fault(self, kind: str, request: Request) -> Response:
        if kind == "rate_limit":
            return _storage_error("ServerBusy", "The server is busy.", 503)
        if kind == "server_error":
            return _storage_error("InternalError", "The server encountered an internal error.", 500)
        return self._serve(request)  # expired_token: the URL is pre-signed, no access token

    def _serve(self, request: Request) -> Response:
        endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        if not self.authorized(request):
            return self.unauthorized_response(request)
        return getattr(self, endpoint)(request, **values)

    def _account_header(self, request: Request, account_id: Any) -> AdAccount:
        """CustomerId must be the sandbox customer; the account must be one of the world's and
        match CustomerAccountId (Microsoft answers 106 otherwise)."""
        if request.headers.get("CustomerId") != CUSTOMER_ID:
            raise not_authorized()
        acct = self.world.account_by_id.get((PLATFORM, str(account_id)))
        if acct is None or request.headers.get("CustomerAccountId") not in (None, str(account_id)):
            raise not_authorized()
        return acct

    # --- OAuth --------------------------------------------------------------------------------
    def oauth_token(self, request: Request) -> Response:
        form = request.form
        with self._lock:
            self.token_forms.append(dict(form))
        if form.get("grant_type") != "refresh_token":
            return _oauth_error("unsupported_grant_type", "AADSTS70003: The app requested an "
                                "unsupported grant type.", 400)
        if form.get("client_id") != CLIENT_ID:
            return _oauth_error("unauthorized_client", "AADSTS700016: Application not found in "
                                "the directory.", 400)
        if "msads.manage" not in form.get("scope", ""):
            return _oauth_error("invalid_scope", "AADSTS70011: The provided scope is not valid.", 400)
        with self._lock:
            valid = form.get("refresh_token") in self._refresh_tokens
            if not valid:
                return _oauth_error(
                    "invalid_grant",
                    "AADSTS70000: The provided grant is invalid or malformed, or has expired.", 400)
            access = "EwB" + secrets.token_urlsafe(32)
            refresh = "M.C5" + secrets.token_urlsafe(32)
            self._access_tokens.add(access)
            self._refresh_tokens.add(refresh)  # old ones stay valid until they expire
        return json_response({
            "token_type": "Bearer",
            "scope": "https://ads.microsoft.com/msads.manage",
            "expires_in": 3600,
            "ext_expires_in": 3600,
            "access_token": access,
            "refresh_token": refresh,
        })

    # --- entities -----------------------------------------------------------------------------
    def account(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        try:
            acct = self._account_header(request, body.get("AccountId"))
        except AdsError as err:
            return err.response()
        return json_response({"Account": {
            "BillToCustomerId": int(CUSTOMER_ID),
            "CurrencyCode": acct.currency,
            "AccountFinancialStatus": "ClearFinancialStatus",
            "Id": int(acct.account_id),
            "Language": "English",
            "LastModifiedByUserId": 7100001,
            "LastModifiedTime": "2026-05-20T17:04:11.297",
            "Name": acct.name,
            "Number": f"F{int(acct.account_id) % 10**7:07d}",
            "ParentCustomerId": int(CUSTOMER_ID),
            "PaymentMethodId": None,
            "PaymentMethodType": None,
            "PrimaryUserId": 7100001,
            "AccountLifeCycleStatus": "Active",
            "TimeStamp": "AAAAAAAB9xo=",
            "TimeZone": TIMEZONE_ENUM.get(acct.timezone, "GreenwichMeanTimeDublinEdinburghLisbonLondon"),
            "PauseReason": None,
            "ForwardCompatibilityMap": [],
            "LinkedAgencies": [],
            "SalesHouseCustomerId": None,
            "TaxInformation": [],
            "BackUpPaymentInstrumentId": None,
            "BillingThresholdAmount": None,
            "BusinessAddress": None,
            "AutoTagType": "Inactive",
            "SoldToPaymentInstrumentId": None,
            "TaxCertificate": None,
            "AccountMode": "Expert",
        }})

    def campaigns(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        try:
            acct = self._account_header(request, body.get("AccountId"))
        except AdsError as err:
            return err.response()
        types = body.get("CampaignType") or "Search"
        wanted = set(types.split() if isinstance(types, str) else types)
        out = []
        for camp in self.world.campaigns:
            if camp.platform != PLATFORM or camp.account_id != acct.account_id:
                continue
            if camp.objective not in wanted:
                continue
            out.append({
                "AudienceAdsBidAdjustment": None,
                "BiddingScheme": {"Type": "EnhancedCpc"},
                "BudgetType": "DailyBudgetStandard",
                "DailyBudget": 250.0,
                "ExperimentId": None,
                "FinalUrlSuffix": None,
                "ForwardCompatibilityMap": [],
                "Id": int(camp.campaign_id),
                "MultimediaAdsBidAdjustment": None,
                "Name": camp.name_as_of(self.as_of),
                "Status": "Active",
                "SubType": None,
                "TimeZone": TIMEZONE_ENUM.get(acct.timezone),
                "TrackingUrlTemplate": None,
                "UrlCustomParameters": None,
                "CampaignType": camp.objective,
                "Settings": [],
                "BudgetId": None,
                "Languages": ["All"],
                "AdScheduleUseSearcherTimeZone": False,
            })
        return json_response({"Campaigns": out, "PartialErrors": []})

    # --- reporting ----------------------------------------------------------------------------
    def submit(self, request: Request) -> Response:
        if request.environ.get("msads.fault") == "concurrent_limit":
            return AdsError(207, "ConcurrentRequestOverLimit",
                            "You have already reached the maximum number of concurrent report "
                            "requests. Please wait until the previous reports are completed and "
                            "then try to submit a new request.", 400, operation=True).response()
        body = request.get_json(silent=True) or {}
        spec = body.get("ReportRequest") or {}
        try:
            report = self._build_report(request, spec)
        except AdsError as err:
            return err.response()
        report_id = f"{int(report['account'].account_id)}_{uuid.uuid4().int % 10**12:012d}"
        with self._lock:
            self.reports[report_id] = report
        return json_response({"ReportRequestId": report_id})

    def _build_report(self, request: Request, spec: dict[str, Any]) -> dict[str, Any]:
        if spec.get("Type") != "AdPerformanceReportRequest":
            raise AdsError(2001, "ReportingServiceInvalidReportType", "The report type is not valid.",
                           operation=True)
        columns = spec.get("Columns") or []
        if not columns:
            raise AdsError(2014, "ReportingServiceNullColumns", "The report columns are null.",
                           operation=True)
        unknown = [c for c in columns if c not in REPORT_COLUMNS]
        if unknown or len(set(columns)) != len(columns):
            raise AdsError(2016 if not unknown else 2015, "ReportingServiceInvalidColumns",
                           f"Invalid or duplicate columns: {unknown or columns}", operation=True)
        aggregation = spec.get("Aggregation") or "Summary"
        if aggregation == "Summary" and "TimePeriod" in columns:
            raise AdsError(2034, "ReportingServiceInvalidTimePeriodColumnForSummaryReport",
                           "The TimePeriod column cannot be requested for a summary report.",
                           operation=True)
        account_ids = (spec.get("Scope") or {}).get("AccountIds") or []
        if len(account_ids) != 1:
            raise AdsError(2003, "ReportingServiceAccountNotAuthorized",
                           "The sandbox serves one account per report.", operation=True)
        try:
            acct = self._account_header(request, account_ids[0])
        except AdsError:
            raise AdsError(2003, "ReportingServiceAccountNotAuthorized",
                           "The specified report request contains at least one account that you "
                           "do not have privileges to access.", operation=True) from None
        time_spec = spec.get("Time") or {}
        try:
            since = _report_date(time_spec["CustomDateRangeStart"])
            until = _report_date(time_spec["CustomDateRangeEnd"])
        except (KeyError, TypeError, ValueError):
            raise AdsError(2009, "ReportingServiceInvalidCustomDateRangeStart",
                           "The custom date range start or end is not valid.", operation=True) from None
        if since > until:
            raise AdsError(2040, "ReportingServiceInvalidCustomDateRange",
                           "The custom date range start date is after the end date.", operation=True)
        daily = aggregation == "Daily" and "TimePeriod" in columns
        rows = self._report_rows(acct, since, until, columns, daily)
        zone = time_spec.get("ReportTimeZone") or "PacificTimeUSCanadaTijuana"
        return {
            "account": acct, "columns": columns, "rows": rows, "failed": False,
            "name": spec.get("ReportName") or "", "since": since, "until": until,
            "aggregation": "Daily" if daily else "Summary", "zone": zone,
            "sig": secrets.token_urlsafe(24),
        }

    def _report_rows(self, acct: AdAccount, since: date, until: date, columns: list[str],
                     daily: bool) -> list[list[str]]:
        """Rows as of the clock, one per ad and UTC day (or per ad for a summary)."""
        groups: dict[tuple[str, str], list[AdDay]] = {}
        for row in self.world.ad_days_as_of(self.as_of, PLATFORM, since, until):
            if row.ad.account_id != acct.account_id or not since <= row.day <= until:
                continue
            period = row.day.isoformat() if daily else ""
            groups.setdefault((period, row.ad.ad_id or ""), []).append(row)
        out = []
        for (period, _), days in sorted(groups.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
            ad = days[0].ad
            camp = self.world.campaign_by_id[ad.campaign_id]
            spend = sum((d.spend for d in days), Decimal(0))
            values = {
                "TimePeriod": period,
                "AccountId": acct.account_id,
                "AccountName": acct.name,
                "AccountNumber": f"F{int(acct.account_id) % 10**7:07d}",
                "CampaignId": ad.campaign_id,
                "CampaignName": camp.name_as_of(self.as_of),
                "CampaignStatus": "Active",
                "AdGroupId": ad.ad_group_id or "",
                "AdGroupName": ad.ad_group_name or "",
                "AdId": ad.ad_id or "",
                "AdTitle": ad.ad_name or "",
                "AdType": "Responsive search ad",
                "CurrencyCode": acct.currency,
                "Impressions": str(sum(d.impressions for d in days)),
                "Clicks": str(sum(d.clicks for d in days)),
                "Spend": f"{spend:.2f}",
                "Conversions": "0",  # deprecated in 2022: always 0
                "ConversionsQualified": f"{sum(d.platform_leads for d in days):.2f}",
                "Revenue": "0.00",
                "Ctr": "0.00%",
                "AverageCpc": "0.00",
                "FinalUrl": "https://www.acme.example/demo",
                "FinalUrlSuffix": _final_url_suffix(self.world.ad_utm_campaign.get(ad.ad_id or ""), ad.campaign_id),
                "TrackingTemplate": "",
            }
            out.append([values[c] for c in columns])
        return out

    def poll(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        report_id = str(body.get("ReportRequestId") or "")
        with self._lock:
            report = self.reports.get(report_id)
        if report is None:
            return AdsError(2100, "ReportingServiceInvalidReportId", "The report identifier is not valid.",
                            operation=True).response()
        if request.headers.get("CustomerId") != CUSTOMER_ID:
            return not_authorized().response()
        fault = request.environ.get("msads.fault")
        if fault == "report_pending":
            return json_response({"ReportRequestStatus": {"ReportDownloadUrl": None, "Status": "Pending"}})
        if fault == "report_error":
            report["failed"] = True  # a failed report stays failed: submit a new one
        if report["failed"]:
            return json_response({"ReportRequestStatus": {"ReportDownloadUrl": None, "Status": "Error"}})
        url = None
        if report["rows"] and fault != "empty_report":
            expiry = datetime.fromtimestamp(wall.time() + DOWNLOAD_URL_SECONDS, UTC)
            query = urlencode({"sv": "2023-11-03", "se": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "sr": "b", "sp": "r", "sig": report["sig"]})
            url = f"{request.host_url.rstrip('/')}/reports/{report_id}.zip?{query}"
        return json_response({"ReportRequestStatus": {"ReportDownloadUrl": url, "Status": "Success"}})

    def download(self, request: Request, report_id: str) -> Response:
        with self._lock:
            report = self.reports.get(report_id)
        if report is None:
            return _storage_error("BlobNotFound", "The specified blob does not exist.", 404)
        expired = request.environ.get("msads.fault") == "expired_url"
        try:
            expiry = datetime.strptime(request.args.get("se", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            expired = expired or expiry.timestamp() < wall.time()
        except ValueError:
            expired = True
        if expired or request.args.get("sig") != report["sig"]:
            return _storage_error(
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization "
                "header is formed correctly including the signature.\nSigned expiry time must be "
                "after signed start time", 403)
        if request.headers.get("Authorization"):
            # a pre-signed URL plus a bearer header is refused by storage (and leaks the token)
            return _storage_error("InvalidAuthenticationInfo",
                                  "Authentication information is not given in the correct format.", 400)
        data = _zip_report(report_id, report, self.as_of)
        return Response(data, 200, mimetype="application/x-zip-compressed",
                        headers={"x-ms-blob-type": "BlockBlob"})

    # --- for the contract tests -------------------------------------------------------------
    def expected_keys(self, stream_name: str) -> set[tuple]:
        if stream_name == "accounts":
            return {(a.account_id,) for a in self.world.accounts if a.platform == PLATFORM}
        if stream_name == "campaigns":
            return {(c.campaign_id,) for c in self.world.campaigns if c.platform == PLATFORM}
        if stream_name == "ad_performance":
            return {
                (r.ad.ad_id, r.day.isoformat())
                for r in self.world.ad_days_as_of(self.as_of, PLATFORM)
                if r.day >= self.world.start
            }
        raise KeyError(f"microsoft_ads has no stream {stream_name!r}")


# --- rendering helpers (pure) -------------------------------------------------------------------
def _report_date(value: dict[str, Any]) -> date:
    return date(int(value["Year"]), int(value["Month"]), int(value["Day"]))


def _us_date(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _zip_report(report_id: str, report: dict[str, Any], as_of: datetime) -> bytes:
    """The CSV Microsoft writes, zipped: BOM, quoted values, metadata, header, rows, footer."""
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    completed = as_of - timedelta(hours=3)
    stamp = f"{_us_date(completed.date())} {completed.strftime('%I:%M:%S %p').lstrip('0')} (GMT)"
    zone = REPORT_TIME_ZONE_LABEL.get(report["zone"], report["zone"])
    for line in (
        f"Report Name: {report['name']}",
        f"Report Time: {_us_date(report['since'])}, {_us_date(report['until'])}",
        f"Time Zone: {zone}",
        f"Last Completed Available Day: {stamp}",
        f"Last Completed Available Hour: {stamp}",
        f"Report Aggregation: {report['aggregation']}",
        "Report Filter: ",
        "Potential Incomplete Data: true",
        f"Rows: {len(report['rows'])}",
    ):
        writer.writerow([line])
    text.write("\r\n")
    writer.writerow(report["columns"])
    writer.writerows(report["rows"])
    text.write("\r\n")
    writer.writerow([FOOTER])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{report_id}.csv", "\ufeff" + text.getvalue())
    return buffer.getvalue()


def _oauth_error(error: str, description: str, status: int,
                 headers: dict[str, str] | None = None) -> Response:
    now = datetime.now(UTC)
    return json_response({
        "error": error,
        "error_description": f"{description}\r\nTrace ID: {uuid.uuid4()}\r\nCorrelation ID: "
                             f"{uuid.uuid4()}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}",
        "error_codes": [int(description.split(":")[0].removeprefix("AADSTS") or 0)],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }, status, headers)


def _storage_error(code: str, message: str, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{message}\nRequestId:{uuid.uuid4()}\n"
        f"Time:{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.0000000Z}</Message></Error>"
    )
    return Response(body, status, mimetype="application/xml", headers={"x-ms-error-code": code})


def _final_url_suffix(utm_campaign: str | None, campaign_id: str) -> str:
    """An ad's final URL suffix as an advertiser sets it: ``key=value`` pairs joined by ``&``,
    a value with spaces percent-encoded; an ad tagged by its campaign id carries the URL
    parameter ``{CampaignId}``, which reports show as set (filled in at click time)."""
    if utm_campaign is None:
        return ""
    value = "{CampaignId}" if utm_campaign == campaign_id else quote(utm_campaign, safe="")
    return f"{URL_SUFFIX_PREFIX}&utm_campaign={value}"
