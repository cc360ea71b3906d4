"""A fake Google Ads API (REST) serving the synthetic world in Google's wire format.

It shows the world as of ``self.as_of``: days that have not started in the customer's time
zone do not exist yet, the last days are provisional and restated later
(``World.ad_days_as_of``). What it reproduces, because connectors get it wrong (see
src/revops/sources/google_ads/README.md and the Google Ads API docs it links):

* OAuth2: ``POST /token`` (``grant_type=refresh_token``) mints random access tokens
  (``expires_in`` 3599); the refresh token is the one the sandbox was built with; a wrong one
  is 400 ``invalid_grant``. The token endpoint is Google's *other* server, so API faults never
  hit it.
* ``POST /{version}/customers/{id}/googleAds:searchStream`` with ``{"query": GAQL}``: the GAQL
  subset ``SELECT f, ... FROM resource [WHERE cond AND ...] [ORDER BY ...] [LIMIT n]`` is parsed
  and checked: unknown fields, fields of another resource, and ``segments.date`` without a finite
  date range are a real-format 400 ``queryError``.
* The answer is a **JSON array of chunks** ``[{"results": [...], "fieldMask": "...",
  "requestId": "..."}]`` (``chunk_rows`` per chunk, 10,000 like Google); an empty result has no
  ``results`` key. Rows are nested camelCase with ``resourceName``s; int64 (ids, counts,
  micros) are strings, doubles numbers, enums names; **zero and default fields are omitted**;
  date-segmented rows whose selected metrics are all zero are absent.
* ``segments.date`` is the customer's local day; ``campaign.name`` is the name as of the request.
* Errors are ``google.rpc.Status`` bodies with a ``GoogleAdsFailure`` detail; on searchStream
  they come as an element of the array. Versions v22 and older are sunset (400
  ``UNSUPPORTED_VERSION``); an unreleased version is the front end's HTML 404.
* ``developer-token`` is accepted present or absent (sunset 2026-09-09); a ``login-customer-id``
  must be the sandbox's manager (``MANAGER_ID``) or the customer itself, else 403
  ``USER_PERMISSION_DENIED``.

Faults (``app.faults.add(kind)``): ``rate_limit`` (429 quotaError, retryDelay 60s),
``server_error`` (500 INTERNAL_ERROR), ``expired_token`` (401 OAUTH_TOKEN_EXPIRED; the token
presented dies), ``truncated`` and ``slow`` (base class), plus ``unavailable`` (503 without a
GoogleAdsFailure), ``stream_error`` (200, a first chunk, then a TRANSIENT_ERROR element),
``daily_quota`` (429 with retryDelay of hours), ``permission_denied`` (403
USER_PERMISSION_DENIED) and ``customer_not_enabled`` (403 CUSTOMER_NOT_ENABLED).

This module must not import the connector: it is the other side of the wire.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import LoggedRequest, SandboxApp, json_response
from revops.sandbox.world import AdAccount, AdDay, World, ad_day_totals

PLATFORM = "google_ads"
TOKEN_PATH = "/token"
SANDBOX_CLIENT_ID = "revops-sandbox-0001.apps.googleusercontent.com"
SANDBOX_CLIENT_SECRET = "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"
#: a manager (MCC) account that manages every sandbox customer
MANAGER_ID = "9876543210"
#: versions served; older ones are sunset (v22 on 2026-10-07), newer ones do not exist yet
OLDEST_LIVE_VERSION = 23
NEWEST_VERSION = 26
CHUNK_ROWS = 10_000

CUSTOMER_FIELDS = frozenset({
    "customer.id", "customer.descriptive_name", "customer.currency_code", "customer.time_zone",
    "customer.resource_name", "customer.manager", "customer.status",
})
CAMPAIGN_FIELDS = frozenset({
    "campaign.id", "campaign.name", "campaign.status", "campaign.advertising_channel_type",
    "campaign.resource_name", "campaign.final_url_suffix", "campaign.tracking_url_template",
})
AD_GROUP_FIELDS = frozenset({"ad_group.id", "ad_group.name", "ad_group.status", "ad_group.resource_name"})
AD_GROUP_AD_FIELDS = frozenset({
    "ad_group_ad.ad.id", "ad_group_ad.ad.name", "ad_group_ad.status", "ad_group_ad.resource_name",
    "ad_group_ad.ad.final_urls", "ad_group_ad.ad.final_url_suffix",
    "ad_group_ad.ad.tracking_url_template",
})
#: the parameters every sandbox ad's final URL suffix carries besides utm_campaign
#: (``{keyword}`` is a ValueTrack parameter: Google fills it in at click time, the API returns it as set)
URL_SUFFIX_PREFIX = "utm_source=google&utm_medium=cpc"
METRIC_FIELDS = frozenset({
    "metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions",
    "metrics.conversions_value",
})
SEGMENT_FIELDS = frozenset({"segments.date"})
#: what each FROM resource can select
RESOURCES: dict[str, frozenset[str]] = {
    "customer": CUSTOMER_FIELDS | METRIC_FIELDS | SEGMENT_FIELDS,
    "campaign": CUSTOMER_FIELDS | CAMPAIGN_FIELDS | METRIC_FIELDS | SEGMENT_FIELDS,
    "ad_group": CUSTOMER_FIELDS | CAMPAIGN_FIELDS | AD_GROUP_FIELDS | METRIC_FIELDS | SEGMENT_FIELDS,
    "ad_group_ad": CUSTOMER_FIELDS | CAMPAIGN_FIELDS | AD_GROUP_FIELDS | AD_GROUP_AD_FIELDS
    | METRIC_FIELDS | SEGMENT_FIELDS,
}
ALL_FIELDS = frozenset().union(*RESOURCES.values())
#: predefined ranges for ``segments.date DURING X``: (days back of the first day, of the last)
DURING = {"TODAY": (0, 0), "YESTERDAY": (1, 1), "LAST_7_DAYS": (7, 1), "LAST_14_DAYS": (14, 1),
          "LAST_30_DAYS": (30, 1)}

QUERY_RE = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
BETWEEN_RE = re.compile(r"([\w.]+)\s+BETWEEN\s+'([^']*)'\s+AND\s+'([^']*)'", re.IGNORECASE)
COND_RE = re.compile(r"^([\w.]+)\s*(=|!=|>=|<=|>|<)\s*'([^']*)'$|^([\w.]+)\s+DURING\s+(\w+)$", re.IGNORECASE)


class AdsFailure(Exception):
    """A Google Ads API error, rendered as ``google.rpc.Status`` with a GoogleAdsFailure."""

    def __init__(self, http: int, status: str, message: str, category: str, code: str,
                 detail: str, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.http, self.status, self.message = http, status, message
        self.category, self.code, self.detail, self.extra = category, code, detail, extra

    def body(self, version: str) -> dict[str, Any]:
        error: dict[str, Any] = {"errorCode": {self.category: self.code}, "message": self.detail}
        if self.extra:
            error["details"] = self.extra
        failure = {
            "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
            "errors": [error],
            "requestId": _request_id(),
        }
        return {"error": {"code": self.http, "message": self.message, "status": self.status,
                          "details": [failure]}}


def query_error(code: str, detail: str) -> AdsFailure:
    return AdsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                      "queryError", code, detail)


def permission_denied() -> AdsFailure:
    return AdsFailure(
        403, "PERMISSION_DENIED", "The caller does not have permission", "authorizationError",
        "USER_PERMISSION_DENIED",
        "User doesn't have permission to access customer. Note: If you're accessing a client "
        "customer, the manager's customer id must be set in the 'login-customer-id' header. See "
        "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
    )


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    resource: str
    since: date | None
    until: date | None
    #: other WHERE conditions: (field, operator, literal)
    filters: tuple[tuple[str, str, str], ...]
    limit: int | None


class GoogleAdsSandbox(SandboxApp):
    platform = PLATFORM

    def __init__(self, world: World, *, token: str, as_of: datetime | None = None):
        super().__init__(world, token=token, as_of=as_of)
        #: rows per searchStream chunk (Google: 10,000); tests lower it to see several chunks
        self.chunk_rows = CHUNK_ROWS
        self._access_tokens: set[str] = set()
        self._tokens_lock = threading.Lock()

    # --- routing, auth, faults -------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule("/<version>/customers/<customer_id>/googleAds:searchStream", methods=["POST"],
                 endpoint="search_stream"),
            Rule("/<version>/customers:listAccessibleCustomers", methods=["GET"],
                 endpoint="list_accessible_customers"),
        ]

    def dispatch(self, request: Request) -> Response:
        """The token endpoint is Google's OAuth server, not the Ads API: no API faults there."""
        if request.path == TOKEN_PATH:
            with self._log_lock:
                form = {k: ("***" if k in ("refresh_token", "client_secret") else v)
                        for k, v in request.form.items()}
                self.log.append(LoggedRequest(request.method, request.path, {}, form, dict(request.headers)))
            return self.token_endpoint(request)
        return super().dispatch(request)

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        with self._tokens_lock:
            return header.startswith("Bearer ") and header[7:] in self._access_tokens

    def unauthorized_response(self, request: Request) -> Response:
        err = AdsFailure(
            401, "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential. See "
            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "authenticationError", "OAUTH_TOKEN_INVALID", "Oauth token is invalid.",
        )
        return self._error(request, err, in_stream=False)

    def not_found_response(self, request: Request) -> Response:
        return _html_404(request.path)

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "stream_error":
            request.environ["google_ads.fault"] = kind
            return self._serve(request)
        if kind == "unavailable":
            body = {"error": {"code": 503, "message": "The service is currently unavailable.",
                              "status": "UNAVAILABLE"}}
            return json_response(body, 503)
        if kind == "expired_token":
            header = request.headers.get("Authorization", "")
            with self._tokens_lock:
                self._access_tokens.discard(header[7:])  # the token really is dead now
        errors = {
            "rate_limit": lambda: _quota_error("60s"),
            "daily_quota": lambda: _quota_error("40591s"),
            "server_error": lambda: AdsFailure(
                500, "INTERNAL", "Internal error encountered.", "internalError", "INTERNAL_ERROR",
                "An internal error has occurred.",
            ),
            "expired_token": lambda: AdsFailure(
                401, "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "authenticationError", "OAUTH_TOKEN_EXPIRED", "Oauth token is expired.",
            ),
            "permission_denied": permission_denied,
            "customer_not_enabled": lambda: AdsFailure(
                403, "PERMISSION_DENIED", "The caller does not have permission",
                "authorizationError", "CUSTOMER_NOT_ENABLED",
                "The customer account can't be accessed because it is not yet enabled or has "
                "been deactivated.",
            ),
        }
        if kind not in errors:
            raise NotImplementedError(kind)
        return self._error(request, errors[kind]())

    def _serve(self, request: Request) -> Response:
        endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        if not self.authorized(request):
            return self.unauthorized_response(request)
        return getattr(self, endpoint)(request, **values)

    def _error(self, request: Request, err: AdsFailure, in_stream: bool | None = None) -> Response:
        version = _version_in(request.path)
        body: Any = err.body(version)
        if in_stream if in_stream is not None else "searchStream" in request.path:
            body = [body]  # searchStream reports errors as an element of its array
        return json_response(body, err.http)

    # --- OAuth ------------------------------------------------------------------------------
    def token_endpoint(self, request: Request) -> Response:
        if request.method != "POST":
            return json_response({"error": "invalid_request", "error_description": "Bad Request"}, 400)
        form = request.form
        if form.get("grant_type") != "refresh_token":
            return json_response({"error": "unsupported_grant_type",
                                  "error_description": f"Invalid grant_type: {form.get('grant_type', '')}"}, 400)
        if form.get("client_id") != SANDBOX_CLIENT_ID or form.get("client_secret") != SANDBOX_CLIENT_SECRET:
            return json_response({"error": "invalid_client",
                                  "error_description": "The OAuth client was not found."}, 401)
        if form.get("refresh_token") != self.token:
            return json_response({"error": "invalid_grant",
                                  "error_description": "Token has been expired or revoked."}, 400)
        access = "ya29.a0" + secrets.token_urlsafe(48)
        with self._tokens_lock:
            self._access_tokens.add(access)
        return json_response({
            "access_token": access,
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/adwords",
            "token_type": "Bearer",
        })

    # --- endpoints --------------------------------------------------------------------------
    def list_accessible_customers(self, request: Request, version: str) -> Response:
        try:
            self._check_version(version)
        except AdsFailure as err:
            return self._error(request, err)
        except _NotFound:
            return _html_404(request.path)
        names = [f"customers/{a.account_id}" for a in self._accounts()]
        return json_response({"resourceNames": names})

    def search_stream(self, request: Request, version: str, customer_id: str) -> Response:
        try:
            self._check_version(version)
            acct = self._customer(request, customer_id)
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                raise AdsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                                 "requestError", "INVALID_INPUT", "The query must be set.")
            query = parse_query(body["query"], self._today(acct))
        except AdsFailure as err:
            return self._error(request, err)
        except _NotFound:
            return _html_404(request.path)
        rows = self._rows(acct, query)
        mask = ",".join(_camel_path(f) for f in query.fields)
        chunks: list[dict[str, Any]] = []
        for start in range(0, len(rows), max(1, self.chunk_rows)):
            chunks.append({"results": rows[start:start + self.chunk_rows], "fieldMask": mask,
                           "requestId": _request_id()})
        if not chunks:
            chunks.append({"fieldMask": mask, "requestId": _request_id()})
        if request.environ.get("google_ads.fault") == "stream_error":
            err = AdsFailure(500, "INTERNAL", "Internal error encountered.", "internalError",
                             "TRANSIENT_ERROR", "The request failed due to a transient error. Retry.")
            chunks = [chunks[0], err.body(version)]
        return json_response(chunks)

    # --- the world, as Google Ads would show it ---------------------------------------------
    def _check_version(self, version: str) -> None:
        match = re.fullmatch(r"v(\d+)", version)
        if not match or int(match.group(1)) > NEWEST_VERSION:
            raise _NotFound()
        if int(match.group(1)) < OLDEST_LIVE_VERSION:
            raise AdsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                             "requestError", "UNSUPPORTED_VERSION",
                             f"Version {version} is deprecated. Requests to this version will be blocked.")

    def _accounts(self) -> list[AdAccount]:
        return [a for a in self.world.accounts if a.platform == PLATFORM]

    def _customer(self, request: Request, customer_id: str) -> AdAccount:
        acct = self.world.account_by_id.get((PLATFORM, customer_id))
        login = request.headers.get("login-customer-id")
        if login is not None and not re.fullmatch(r"\d{10}", login):
            raise AdsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                             "requestError", "INVALID_CUSTOMER_ID",
                             "Invalid customer ID 'login-customer-id'.")
        if acct is None or (login is not None and login not in (MANAGER_ID, customer_id)):
            raise permission_denied()
        return acct

    def _today(self, acct: AdAccount) -> date:
        return self.as_of.astimezone(ZoneInfo(acct.day_zone)).date()

    def _exists(self, acct: AdAccount) -> bool:
        """Campaigns, ad groups and ads exist from the world's first local midnight."""
        born = datetime.combine(self.world.start, time(0), tzinfo=ZoneInfo(acct.timezone))
        return self.as_of >= born

    def _entity_fields(self, acct: AdAccount, campaign_id: str | None = None,
                       ad_group: tuple[str, str | None] | None = None,
                       ad: tuple[str, str | None] | None = None) -> dict[str, Any]:
        cid = acct.account_id
        values: dict[str, Any] = {
            "customer.id": cid,
            "customer.resource_name": f"customers/{cid}",
            "customer.descriptive_name": acct.name,
            "customer.currency_code": acct.currency,
            "customer.time_zone": acct.timezone,
            "customer.manager": False,
            "customer.status": "ENABLED",
        }
        if campaign_id is not None:
            camp = self.world.campaign_by_id[campaign_id]
            values.update({
                "campaign.id": campaign_id,
                "campaign.resource_name": f"customers/{cid}/campaigns/{campaign_id}",
                "campaign.name": camp.name_as_of(self.as_of),  # a rename shows on every row
                "campaign.status": "ENABLED",
                "campaign.advertising_channel_type": camp.objective,
            })
        if ad_group is not None:
            values.update({
                "ad_group.id": ad_group[0],
                "ad_group.resource_name": f"customers/{cid}/adGroups/{ad_group[0]}",
                "ad_group.name": ad_group[1],
                "ad_group.status": "ENABLED",
            })
        if ad is not None and ad_group is not None:
            values.update({
                "ad_group_ad.resource_name": f"customers/{cid}/adGroupAds/{ad_group[0]}~{ad[0]}",
                "ad_group_ad.ad.id": ad[0],
                "ad_group_ad.ad.name": ad[1],
                "ad_group_ad.status": "ENABLED",
                "ad_group_ad.ad.final_urls": ["https://www.acme.example/demo"],
                "ad_group_ad.ad.final_url_suffix": _final_url_suffix(
                    self.world.ad_utm_campaign.get(ad[0]), campaign_id),
            })
        return values

    def _entities(self, acct: AdAccount, resource: str) -> list[dict[str, Any]]:
        """One value map per entity of the FROM resource (entity listing, no metrics)."""
        if resource == "customer":
            return [self._entity_fields(acct)]
        if not self._exists(acct):
            return []
        ads = [a for a in self.world.ads if a.platform == PLATFORM and a.account_id == acct.account_id]
        if resource == "campaign":
            camps = [c for c in self.world.campaigns if c.platform == PLATFORM and c.account_id == acct.account_id]
            return [self._entity_fields(acct, c.campaign_id) for c in camps]
        if resource == "ad_group":
            groups = {(a.campaign_id, a.ad_group_id, a.ad_group_name) for a in ads}
            return [self._entity_fields(acct, c, (g, n)) for c, g, n in sorted(groups)]
        return [self._entity_fields(acct, a.campaign_id, (a.ad_group_id, a.ad_group_name), (a.ad_id, a.ad_name))
                for a in ads]

    def _activity(self, acct: AdAccount, resource: str, query: Query) -> list[dict[str, Any]]:
        """Metric rows: visible ad-days in the date range, grouped to the selected fields.

        Per row, only the group key: the entity fields are built once per entity, the value map
        and the metric totals (:func:`ad_day_totals`) once per group. Building both for every
        ad-day, with the key's field list sorted again each time, was 40 % of this sandbox's
        request time on the large bench at scale 0.1 (py-spy); a year of one customer's ad-days
        there: 0.61 s, then 0.33 s summing as it went (before the totals were shared)."""
        selected = set(query.fields)
        key_fields = sorted(selected - METRIC_FIELDS)
        date_at = key_fields.index("segments.date") if "segments.date" in key_fields else None
        chosen_metrics = selected & METRIC_FIELDS
        #: entity (campaign, ad group, ad) -> its fields and its share of the group key
        entities: dict[tuple, tuple[dict[str, Any], tuple, tuple]] = {}
        groups: dict[tuple, dict[str, Any]] = {}
        days: dict[tuple, list[AdDay]] = {}  # each group's ad-days
        for row in self.world.ad_days_as_of(self.as_of, PLATFORM, query.since, query.until):
            if row.ad.account_id != acct.account_id:
                continue
            if query.since is not None and row.day < query.since:
                continue
            if query.until is not None and row.day > query.until:
                continue
            a = row.ad
            entity = (
                a.campaign_id if resource != "customer" else None,
                (a.ad_group_id, a.ad_group_name) if resource in ("ad_group", "ad_group_ad") else None,
                (a.ad_id, a.ad_name) if resource == "ad_group_ad" else None,
            )
            known = entities.get(entity)
            if known is None:
                fields = self._entity_fields(acct, *entity)
                key = [fields.get(f) for f in key_fields]
                if date_at is None:
                    known = (fields, tuple(key), ())
                else:
                    known = (fields, tuple(key[:date_at]), tuple(key[date_at + 1:]))
                entities[entity] = known
            fields, before, after = known
            day = row.day.isoformat()
            key = before + (day,) + after if date_at is not None else before
            group = days.get(key)
            if group is None:
                groups[key] = {**fields, "segments.date": day}
                group = days[key] = []
            group.append(row)
        out = []
        for key, values in groups.items():
            metrics = _metric_values(*ad_day_totals(days[key]))
            if chosen_metrics and not any(metrics[f] for f in chosen_metrics):
                continue  # all selected metrics zero: Google drops the row
            out.append({**values, **metrics})
        return sorted(out, key=lambda v: tuple([str(v.get(f, "")) for f in query.fields]))

    def _rows(self, acct: AdAccount, query: Query) -> list[dict[str, Any]]:
        selected = set(query.fields)
        if selected & (METRIC_FIELDS | SEGMENT_FIELDS):
            values = self._activity(acct, query.resource, query)
        else:
            values = self._entities(acct, query.resource)
        values = [v for v in values if _passes(v, query.filters)]
        if query.limit is not None:
            values = values[: query.limit]
        return [render(v, query.fields) for v in values]

    # --- for the contract tests -------------------------------------------------------------
    def expected_keys(self, stream_name: str) -> set[tuple]:
        """Primary keys a correct connector holds for ``stream_name`` at the current clock."""
        accounts = self._accounts()
        if stream_name == "customers":
            return {(a.account_id,) for a in accounts}
        if stream_name == "campaigns":
            return {
                (c.campaign_id,)
                for c in self.world.campaigns
                if c.platform == PLATFORM and self._exists(self.world.account_by_id[(PLATFORM, c.account_id)])
            }
        if stream_name == "ad_url_tags":
            return {
                (a.ad_group_id, a.ad_id)
                for a in self.world.ads
                if a.platform == PLATFORM and self._exists(self.world.account_by_id[(PLATFORM, a.account_id)])
            }
        if stream_name == "ad_group_ad_daily":
            return {
                (r.ad.ad_group_id, r.ad.ad_id, r.day.isoformat())
                for r in self.world.ad_days_as_of(self.as_of, PLATFORM)
                if r.day >= self.world.start and any(_metrics(r).values())
            }
        raise KeyError(f"google_ads has no stream {stream_name!r}")


class _NotFound(Exception):
    """The front end knows no such path (an unreleased version): HTML 404, not JSON."""


# --- GAQL --------------------------------------------------------------------------------------
def parse_query(text: str, today: date) -> Query:
    """Parse the GAQL subset; raise the queryError Google would."""
    match = QUERY_RE.match(text)
    if not match:
        raise query_error("UNEXPECTED_END_OF_QUERY" if "FROM" not in text.upper() else "BAD_VALUE_IN_SELECT_CLAUSE",
                          "Error in query: unexpected input.")
    resource = match.group("resource").lower()
    if resource not in RESOURCES:
        raise query_error("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"Error in FROM clause: invalid resource name '{resource}'.")
    fields = tuple(f.strip() for f in match.group("fields").split(","))
    for f in fields:
        if f not in ALL_FIELDS:
            raise query_error("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{f}'.")
        if f not in RESOURCES[resource]:
            raise query_error(
                "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
                f"The following field cannot be selected given the resource in the FROM clause: '{f}'.",
            )
    if len(set(fields)) != len(fields):
        raise query_error("DUPLICATE_FIELDS_IN_SELECT_CLAUSE", "Duplicate fields in SELECT clause.")
    lower: date | None = None
    upper: date | None = None
    filters: list[tuple[str, str, str]] = []
    where = match.group("where") or ""
    for m in BETWEEN_RE.finditer(where):
        if m.group(1) != "segments.date":
            raise query_error("BAD_OPERATOR_IN_WHERE_CLAUSE", f"BETWEEN is not supported for '{m.group(1)}'.")
        lower, upper = _date(m.group(2)), _date(m.group(3))
    rest = BETWEEN_RE.sub("", where)
    for cond in (c.strip() for c in re.split(r"\s+AND\s+", rest, flags=re.IGNORECASE)):
        if not cond:
            continue
        cm = COND_RE.match(cond)
        if not cm:
            raise query_error("INVALID_VALUE_WITH_WHERE_CLAUSE" if "'" in cond else "UNEXPECTED_INPUT",
                              f"Error in WHERE clause: invalid condition '{cond}'.")
        if cm.group(4):  # field DURING RANGE
            if cm.group(4) != "segments.date" or cm.group(5).upper() not in DURING:
                raise query_error("INVALID_VALUE_WITH_DURING_OPERATOR", f"Invalid DURING condition '{cond}'.")
            back_from, back_to = DURING[cm.group(5).upper()]
            lower, upper = today - timedelta(days=back_from), today - timedelta(days=back_to)
            continue
        field, op, literal = cm.group(1), cm.group(2), cm.group(3)
        if field not in ALL_FIELDS:
            raise query_error("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{field}'.")
        if field == "segments.date":
            day = _date(literal)
            if op in (">=", "="):
                lower = day
            if op in ("<=", "="):
                upper = day
            if op == ">":
                lower = day + timedelta(days=1)
            if op == "<":
                upper = day - timedelta(days=1)
            if op == "!=":
                raise query_error("BAD_OPERATOR_IN_WHERE_CLAUSE", "!= is not supported for segments.date.")
            continue
        filters.append((field, op, literal))
    if "segments.date" in fields and (lower is None or upper is None):
        raise query_error(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "A finite date range must be specified in the WHERE clause when segments.date is "
            "selected: use BETWEEN, both >= and <=, or DURING.",
        )
    limit = int(match.group("limit")) if match.group("limit") else None
    return Query(fields, resource, lower, upper, tuple(filters), limit)


def _date(literal: str) -> date:
    try:
        return date.fromisoformat(literal)
    except ValueError as exc:
        raise query_error("INVALID_VALUE_WITH_BETWEEN_OPERATOR" if literal else "BAD_VALUE_IN_WHERE_CLAUSE",
                          f"Invalid date literal '{literal}': expected YYYY-MM-DD.") from exc


def _passes(values: dict[str, Any], filters: tuple[tuple[str, str, str], ...]) -> bool:
    for field, op, literal in filters:
        value = values.get(field)
        shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        ok = {"=": shown == literal, "!=": shown != literal, ">=": shown >= literal,
              "<=": shown <= literal, ">": shown > literal, "<": shown < literal}[op]
        if not ok:
            return False
    return True


# --- rendering (pure) --------------------------------------------------------------------------
def _metrics(row: AdDay) -> dict[str, Decimal]:
    return _metric_values(row.spend, row.impressions, row.clicks, row.platform_leads)


def _metric_values(spend: Decimal, impressions: int, clicks: int, leads: int) -> dict[str, Decimal]:
    """The metric fields of ad-days with these totals (:func:`ad_day_totals`)."""
    return {
        "metrics.impressions": Decimal(impressions),
        "metrics.clicks": Decimal(clicks),
        "metrics.cost_micros": spend * 1_000_000,
        "metrics.conversions": Decimal(leads),
        "metrics.conversions_value": Decimal(0),  # no conversion values in the world
    }


#: int64 fields (strings on the wire); doubles are JSON numbers
INT64_FIELDS = frozenset({"customer.id", "campaign.id", "ad_group.id", "ad_group_ad.ad.id",
                          "metrics.impressions", "metrics.clicks", "metrics.cost_micros"})
DOUBLE_FIELDS = frozenset({"metrics.conversions", "metrics.conversions_value"})
#: resource objects carry their resourceName whenever one of their fields is selected
RESOURCE_NAMES = {"customer": "customer.resource_name", "campaign": "campaign.resource_name",
                  "ad_group": "ad_group.resource_name", "ad_group_ad": "ad_group_ad.resource_name"}


def render(values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """One nested camelCase result row; zero, empty and default values are omitted."""
    out: dict[str, Any] = {}
    ad_name_path, plan = _render_plan(fields)
    if ad_name_path is not None and "ad_group_ad.ad.id" in values:
        cid = values["customer.id"]
        _put(out, ad_name_path, f"customers/{cid}/ads/{values['ad_group_ad.ad.id']}")
    for field, kind, path in plan:
        value = values.get(field)
        if kind is _INT64:
            value = str(int(value)) if value else None
        elif kind is _DOUBLE:
            value = float(value) if value else None
        elif value is False or value == "":
            value = None
        if value is not None:
            _put(out, path, value)
    return out


_INT64, _DOUBLE, _OTHER = "int64", "double", "other"
#: a field's camelCase path in a row: the nested objects, then the key
_Path = tuple[tuple[str, ...], str]
#: (field, its wire type, its camelCase path) for each field a row writes
_Plan = tuple[tuple[str, str, _Path], ...]


@functools.lru_cache(maxsize=256)  # a connector asks a handful of field lists, row after row
def _render_plan(fields: tuple[str, ...]) -> tuple[_Path | None, _Plan]:
    """What :func:`render` does for every row of a query selecting ``fields``: where the ad's
    resource name goes, if it is added (it is no GAQL field, but Google adds it to ``ad``),
    then each field written (the selected ones, then the resource names
    of the resources they belong to) with its wire type and its camelCase path. Worked out for
    every row, rendering was half of this sandbox's request time on the large bench at scale
    0.1 (py-spy); a year of one customer's rows there: 0.81 s, now 0.41 s."""
    wanted = list(fields)
    for prefix, name_field in RESOURCE_NAMES.items():
        if any(f.startswith(prefix + ".") for f in fields) and name_field not in wanted:
            wanted.append(name_field)
    with_ad_name = any(f.startswith("ad_group_ad.ad.") for f in fields)
    ad_name_path = _path("ad_group_ad.ad.resource_name") if with_ad_name else None
    plan = tuple(
        (field, _INT64 if field in INT64_FIELDS else _DOUBLE if field in DOUBLE_FIELDS else _OTHER,
         _path(field))
        for field in wanted
    )
    return ad_name_path, plan


def _final_url_suffix(utm_campaign: str | None, campaign_id: str | None) -> str | None:
    """An ad's final URL suffix as an advertiser sets it: ``key=value`` pairs joined by ``&``,
    spaces in a value as ``+``; an ad tagged by its campaign id carries the ValueTrack parameter
    ``{campaignid}``, which the API returns as set (Google fills it in at click time)."""
    if utm_campaign is None:
        return None
    value = "{campaignid}" if utm_campaign == campaign_id else quote_plus(utm_campaign)
    return f"{URL_SUFFIX_PREFIX}&utm_campaign={value}&utm_term={{keyword}}"


def _path(field: str) -> _Path:
    """``a.b_c.d`` -> ((``a``, ``bC``), ``d``): the nested objects, then the key."""
    parts = [_camel(p) for p in field.split(".")]
    return tuple(parts[:-1]), parts[-1]


def _put(out: dict[str, Any], path: _Path, value: Any) -> None:
    node = out
    parents, key = path
    for part in parents:
        node = node.setdefault(part, {})
    node[key] = value


@functools.cache  # a few dozen field names, asked for on every row served
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _camel_path(field: str) -> str:
    return ".".join(_camel(p) for p in field.split("."))


def _quota_error(delay: str) -> AdsFailure:
    return AdsFailure(
        429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
        "quotaError", "RESOURCE_EXHAUSTED", f"Too many requests. Retry in {delay[:-1]} seconds.",
        extra={"quotaErrorDetails": {"rateScope": "DEVELOPER",
                                     "rateName": "Number of operations for basic access",
                                     "retryDelay": delay}},
    )


def _request_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")[:22]


def _version_in(path: str) -> str:
    match = re.match(r"^/(v\d+)/", path)
    return match.group(1) if match else f"v{NEWEST_VERSION}"


def _html_404(path: str) -> Response:
    html = (
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
        f"  <p><b>404.</b> <ins>That's an error.</ins>\n  <p>The requested URL <code>{path}</code> "
        "was not found on this server.  <ins>That's all we know.</ins>\n"
    )
    return Response(html, status=404, mimetype="text/html")
