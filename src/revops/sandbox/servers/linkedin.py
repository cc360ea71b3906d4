"""A fake LinkedIn Marketing API (versioned REST, ``/rest``) serving the synthetic world in
LinkedIn's wire format.

It shows the world as of ``self.as_of``; analytics days are **UTC** days (``AdAccount.day_zone``),
the last days are provisional and restated later (``World.ad_days_as_of``). What it reproduces,
because connectors get it wrong (see src/revops/sources/linkedin/README.md and the Microsoft
Learn pages it links):

* our levels map to LinkedIn's: our campaign = **campaign group**, our ad group = **campaign**,
  our ad = **creative**; ids are numbers on groups/campaigns/accounts but URNs on creatives
  (``urn:li:sponsoredCreative:N``), references between entities are URNs;
* headers: ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (a version older than a year
  at the clock is sunset: 426 ``NONEXISTENT_VERSION``), ``X-Restli-Protocol-Version: 2.0.0``
  (without it the Rest.li 2.0 query syntax is refused) and ``X-RestLi-Method: FINDER`` on the
  creatives finder;
* **Rest.li query syntax** parsed from the raw query string: ``(...)``, ``:`` and ``,`` must
  arrive unencoded and the colons inside URNs percent-encoded; anything else is a 400;
* entity finders page with ``pageSize``/``pageToken`` and ``metadata.nextPageToken`` only while
  rows remain; ``q=search`` without a status list hides archived/completed entities;
* ``adAnalytics`` has **no paging** and returns at most ``row_cap`` rows (15,000): a bigger
  answer is cut silently; counts are ints, costs long decimal strings with float noise
  (``"107.5300000000000335346"``), no campaign ids; at most 20 ``fields``;
* errors as LinkedIn bodies ``{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN",
  "message":"Invalid access token"}``.

Faults (``app.faults.add(kind)``): ``rate_limit`` (429), ``server_error`` (500),
``expired_token`` (401 EXPIRED_ACCESS_TOKEN), ``truncated`` and ``slow`` (base class), plus
``version_sunset`` (426), ``forbidden`` (403 ACCESS_DENIED), ``schema_drift`` (analytics rows
carry an unrequested ``costInUsd``) and ``malformed_record`` (the first analytics row's cost is
``"N/A"``).

This module must not import the connector: it is the other side of the wire.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import SandboxApp, json_response
from revops.sandbox.world import AdAccount, AdDay, Campaign, ad_day_totals

PLATFORM = "linkedin"
#: adAnalytics returns at most this many rows and no paging [OWOX/owox-data-marts#1569]
ROW_CAP = 15_000
MAX_FIELDS = 20
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: versions live at least a year, then answer 426 [linkedin/marketing/versioning]
VERSION_LIFETIME_MONTHS = 12
RESTLI_VERSION = "2.0.0"
#: statuses a ``q=search`` without a status filter shows (archived/completed are hidden)
DEFAULT_VISIBLE = frozenset({"ACTIVE", "PAUSED", "DRAFT"})
ANALYTICS_FIELDS = frozenset({
    "dateRange", "pivotValues", "impressions", "clicks", "costInLocalCurrency", "costInUsd",
    "externalWebsiteConversions", "conversionValueInLocalCurrency", "oneClickLeads", "landingPageClicks",
})
PIVOTS = ("CREATIVE", "CAMPAIGN", "CAMPAIGN_GROUP", "ACCOUNT")

_URN = r"urn%3Ali%3A{kind}%3A(\d+)"
_DATE = r"\(year:(\d{4}),month:(\d{1,2}),day:(\d{1,2})\)"
DATE_RANGE_RE = re.compile(rf"^\(start:{_DATE}(?:,end:{_DATE})?\)$")
SEARCH_STATUS_RE = re.compile(r"^\(status:\(values:List\(([A-Z_]+(?:,[A-Z_]+)*)\)\)\)$")


class LinkedInError(Exception):
    """An error rendered as LinkedIn's ``{"status", "serviceErrorCode", "code", "message"}``."""

    def __init__(self, status: int, code: str, message: str, service_code: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.service_code = status, code, message, service_code

    def response(self) -> Response:
        body: dict[str, Any] = {"status": self.status}
        if self.service_code is not None:
            body["serviceErrorCode"] = self.service_code
        body["code"] = self.code
        body["message"] = self.message
        return json_response(body, self.status)


def bad_request(message: str) -> LinkedInError:
    return LinkedInError(400, "ILLEGAL_ARGUMENT", message, 100)


class LinkedInSandbox(SandboxApp):
    platform = PLATFORM

    def __init__(self, world, **kwargs: Any):
        super().__init__(world, **kwargs)
        #: rows adAnalytics returns at most (tests lower it to exercise the split)
        self.row_cap = ROW_CAP
        #: creatives an advertiser moved to another LinkedIn campaign (our ad group) since: ad id ->
        #: that campaign's id; the finders report it, the analytics rows (by creative) do not change
        self.moved_creatives: dict[str, str] = {}

    # --- routing, auth, faults -------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule("/rest/adAccounts/<account_id>", endpoint="account"),
            Rule("/rest/adAccounts/<account_id>/adCampaignGroups", endpoint="campaign_groups"),
            Rule("/rest/adAccounts/<account_id>/adCampaigns", endpoint="campaigns"),
            Rule("/rest/adAccounts/<account_id>/creatives", endpoint="creatives"),
            Rule("/rest/adAnalytics", endpoint="analytics"),
        ]

    def unauthorized_response(self, request: Request) -> Response:
        return LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600).response()

    def not_found_response(self, request: Request) -> Response:
        return LinkedInError(404, "RESOURCE_NOT_FOUND", "No virtual resource found", 0).response()

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind in ("schema_drift", "malformed_record"):
            request.environ["linkedin.fault"] = kind
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
            if not self.authorized(request):
                return self.unauthorized_response(request)
            return getattr(self, endpoint)(request, **values)
        errors = {
            "rate_limit": LinkedInError(
                429, "TOO_MANY_REQUESTS",
                "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            ),
            "server_error": LinkedInError(500, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
            "expired_token": LinkedInError(
                401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602
            ),
            "version_sunset": LinkedInError(
                426, "NONEXISTENT_VERSION",
                f"Requested version {request.headers.get('LinkedIn-Version')} is not active",
            ),
            "forbidden": LinkedInError(
                403, "ACCESS_DENIED", f"Not enough permissions to access: GET {request.path}", 100
            ),
        }
        if kind not in errors:
            raise NotImplementedError(kind)
        return errors[kind].response()

    def _check_headers(self, request: Request) -> None:
        version = request.headers.get("LinkedIn-Version")
        if not version:
            raise LinkedInError(
                400, "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if not self._version_active(version):
            raise LinkedInError(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("X-Restli-Protocol-Version") != RESTLI_VERSION:
            raise bad_request("Rest.li 2.0 query syntax needs the X-Restli-Protocol-Version: 2.0.0 header")

    def _version_active(self, version: str) -> bool:
        if not re.fullmatch(r"\d{6}", version):
            return False
        year, month = int(version[:4]), int(version[4:])
        if not 1 <= month <= 12:
            return False
        now = self.as_of.astimezone(UTC)
        age = (now.year - year) * 12 + now.month - month
        return age <= VERSION_LIFETIME_MONTHS  # versions ahead of the clock are accepted

    # --- endpoints --------------------------------------------------------------------------
    def account(self, request: Request, account_id: str) -> Response:
        try:
            self._args(request)
            acct = self._account(account_id)
        except LinkedInError as err:
            return err.response()
        return json_response(self._account_body(acct))

    def campaign_groups(self, request: Request, account_id: str) -> Response:
        try:
            acct = self._account(account_id)
            args = self._args(request)
            self._require(args, "q", "search")
            statuses = _search_statuses(args)
            rows = [
                self._group_body(c)
                for c in self._groups(acct)
                if self._group_status(c) in statuses
            ]
            return json_response(_page(rows, args, request.environ.get("sandbox.fault")))
        except LinkedInError as err:
            return err.response()

    def campaigns(self, request: Request, account_id: str) -> Response:
        try:
            acct = self._account(account_id)
            args = self._args(request)
            self._require(args, "q", "search")
            statuses = _search_statuses(args)
            rows = [
                self._campaign_body(group, gid, gname)
                for group in self._groups(acct)
                for gid, gname in self._ad_groups(group)
                if self._campaign_status(group) in statuses
            ]
            return json_response(_page(rows, args, request.environ.get("sandbox.fault")))
        except LinkedInError as err:
            return err.response()

    def creatives(self, request: Request, account_id: str) -> Response:
        try:
            acct = self._account(account_id)
            args = self._args(request)
            self._require(args, "q", "criteria")
            if request.headers.get("X-RestLi-Method", "").upper() != "FINDER":
                raise bad_request("The creatives finder needs the X-RestLi-Method: FINDER header")
            wanted = None
            if "campaigns" in args:
                wanted = {f"{n}" for n in _urn_list(args["campaigns"], "sponsoredCampaign", "campaigns")}
            rows = [
                self._creative_body(ad)
                for ad in self.world.ads
                if ad.platform == PLATFORM and ad.account_id == acct.account_id
                and self._visible(self.world.campaign_by_id[ad.campaign_id])
                and (wanted is None or ad.ad_group_id in wanted)
            ]
            return json_response(_page(rows, args, request.environ.get("sandbox.fault")))
        except LinkedInError as err:
            return err.response()

    def analytics(self, request: Request) -> Response:
        try:
            args = self._args(request)
            self._require(args, "q", "analytics")
            pivot = args.get("pivot")
            if pivot not in PIVOTS:
                raise bad_request(f"Invalid value for param pivot: {pivot}")
            granularity = args.get("timeGranularity")
            if granularity not in ("DAILY", "ALL"):
                raise bad_request(f"Invalid value for param timeGranularity: {granularity}")
            since, until = self._date_range(args.get("dateRange"))
            if "accounts" not in args:
                raise bad_request("One of accounts, campaigns, creatives, campaignGroups must be set")
            accounts = set(_urn_list(args["accounts"], "sponsoredAccount", "accounts"))
            for a in accounts:
                self._account(a)
            campaigns = None
            if "campaigns" in args:
                campaigns = set(_urn_list(args["campaigns"], "sponsoredCampaign", "campaigns"))
            fields = _fields(args.get("fields"))
        except LinkedInError as err:
            return err.response()
        rows = self._analytics_rows(accounts, campaigns, pivot, granularity, since, until)
        fault = request.environ.get("linkedin.fault")
        shown = []
        for row in rows[: self.row_cap]:  # no paging: the rest is silently cut
            out = {f: row[f] for f in fields if f in row}
            if fault == "schema_drift":
                out["costInUsd"] = row["costInUsd"]
            shown.append(out)
        if fault == "malformed_record" and shown:
            shown[0] = {**shown[0], "costInLocalCurrency": "N/A"}
        return json_response({"paging": {"start": 0, "count": 10, "links": []}, "elements": shown})

    # --- the world, as LinkedIn would show it -----------------------------------------------
    def _account(self, account_id: str) -> AdAccount:
        acct = self.world.account_by_id.get((PLATFORM, account_id))
        if acct is None:
            raise LinkedInError(
                403, "ACCESS_DENIED",
                f"Not enough permissions to access: urn:li:sponsoredAccount:{account_id}", 100,
            )
        return acct

    def _groups(self, acct: AdAccount) -> list[Campaign]:
        return [
            c for c in self.world.campaigns
            if c.platform == PLATFORM and c.account_id == acct.account_id and self._visible(c)
        ]

    def _visible(self, camp: Campaign) -> bool:
        return self._created(camp) <= self.as_of

    def _ad_groups(self, camp: Campaign) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for ad in self.world.ads:
            if ad.campaign_id == camp.campaign_id and ad.ad_group_id is not None:
                seen.setdefault(ad.ad_group_id, ad.ad_group_name or "")
        return list(seen.items())

    def _created(self, camp: Campaign) -> datetime:
        """Set up a week or so before the world's first spend day, 09:00 UTC."""
        first = datetime.combine(self.world.start, time(9), tzinfo=UTC)
        return first - timedelta(days=7 + int(camp.campaign_id) % 5)

    def _ended(self) -> datetime:
        """The world's last spend day is over (UTC): campaigns complete, one group is archived."""
        return datetime.combine(self.world.end + timedelta(days=1), time(0), tzinfo=UTC)

    def _archives(self, camp: Campaign) -> bool:
        groups = [c for c in self.world.campaigns if c.platform == PLATFORM and c.account_id == camp.account_id]
        return camp is groups[-1] and len(groups) > 1

    def _group_status(self, camp: Campaign) -> str:
        return "ARCHIVED" if self._archives(camp) and self.as_of >= self._ended() else "ACTIVE"

    def _campaign_status(self, camp: Campaign) -> str:
        return "COMPLETED" if self._archives(camp) and self.as_of >= self._ended() else "ACTIVE"

    def _modified(self, camp: Campaign) -> datetime:
        created = self._created(camp)
        edits = [created + timedelta(days=1), *(at for at, _ in camp.renames)]
        if self._archives(camp):
            edits.append(self._ended())
        return max([created, *(t for t in edits if t <= self.as_of)])

    def _account_body(self, acct: AdAccount) -> dict[str, Any]:
        return {
            "id": int(acct.account_id),  # a number on the wire; URNs elsewhere
            "name": acct.name,
            "currency": acct.currency,
            "status": "ACTIVE",
            "type": "BUSINESS",
            "test": False,
            "reference": "urn:li:organization:2414183",
            "servingStatuses": ["RUNNABLE"],
            "notifiedOnCampaignOptimization": False,
        }

    def _group_body(self, camp: Campaign) -> dict[str, Any]:
        return {
            "id": int(camp.campaign_id),
            "account": f"urn:li:sponsoredAccount:{camp.account_id}",
            "name": camp.name_as_of(self.as_of),  # a rename shows everywhere at once
            "status": self._group_status(camp),
            "objectiveType": camp.objective,
            "test": False,
            "runSchedule": {"start": _ms(self._created(camp))},
            "servingStatuses": ["RUNNABLE"],
            "changeAuditStamps": {
                "created": {"time": _ms(self._created(camp)), "actor": "urn:li:person:Yx9f3"},
                "lastModified": {"time": _ms(self._modified(camp)), "actor": "urn:li:person:Yx9f3"},
            },
        }

    def _campaign_body(self, camp: Campaign, group_id: str, name: str) -> dict[str, Any]:
        return {
            "id": int(group_id),
            "account": f"urn:li:sponsoredAccount:{camp.account_id}",
            "campaignGroup": f"urn:li:sponsoredCampaignGroup:{camp.campaign_id}",
            "name": name,
            "status": self._campaign_status(camp),
            "type": "SPONSORED_UPDATES",
            "objectiveType": camp.objective,
            "costType": "CPM",
            "format": "SINGLE_IMAGE",
            "locale": {"country": "US", "language": "en"},
            "unitCost": {
                "amount": "25.00",
                "currencyCode": self.world.account_by_id[(PLATFORM, camp.account_id)].currency,
            },
            "test": False,
            "runSchedule": {"start": _ms(self._created(camp))},
            "changeAuditStamps": {
                "created": {"time": _ms(self._created(camp))},
                "lastModified": {"time": _ms(self._modified(camp))},
            },
        }

    def _creative_body(self, ad) -> dict[str, Any]:
        camp = self.world.campaign_by_id[ad.campaign_id]
        created = self._created(camp) + timedelta(hours=2)
        return {
            "id": f"urn:li:sponsoredCreative:{ad.ad_id}",
            "account": f"urn:li:sponsoredAccount:{ad.account_id}",
            "campaign": f"urn:li:sponsoredCampaign:{self.moved_creatives.get(ad.ad_id, ad.ad_group_id)}",
            "name": ad.ad_name,
            "intendedStatus": "ACTIVE",
            "isServing": self._campaign_status(camp) == "ACTIVE",
            "content": {"reference": f"urn:li:share:7{ad.ad_id}"},
            "createdAt": _ms(created),
            "createdBy": "urn:li:person:Yx9f3",
            "lastModifiedAt": _ms(max(created, self._modified(camp))),
            "lastModifiedBy": "urn:li:person:Yx9f3",
        }

    def _date_range(self, raw: str | None) -> tuple[date, date]:
        if raw is None:
            raise bad_request("Missing required param: dateRange")
        match = DATE_RANGE_RE.fullmatch(raw)
        if not match:
            raise bad_request(f"Invalid value for param dateRange: {raw}")
        g = match.groups()
        try:
            since = date(int(g[0]), int(g[1]), int(g[2]))
            until = date(int(g[3]), int(g[4]), int(g[5])) if g[3] else self.as_of.astimezone(UTC).date()
        except ValueError as exc:
            raise bad_request(f"Invalid value for param dateRange: {exc}") from exc
        if since > until:
            raise bad_request("dateRange start must not be after end")
        return since, until

    def _analytics_rows(
        self,
        accounts: set[str],
        campaigns: set[str] | None,
        pivot: str,
        granularity: str,
        since: date,
        until: date,
    ) -> list[dict[str, Any]]:
        groups: dict[tuple[date, date, str], list[AdDay]] = defaultdict(list)
        for row in self.world.ad_days_as_of(self.as_of, PLATFORM, since, until):
            ad = row.ad
            if ad.account_id not in accounts or not since <= row.day <= until:
                continue
            if campaigns is not None and ad.ad_group_id not in campaigns:
                continue
            start, end = (row.day, row.day) if granularity == "DAILY" else (since, until)
            groups[(start, end, _pivot_urn(row, pivot))].append(row)
        return [
            _analytics_row(start, end, urn, days)
            for (start, end, urn), days in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2]))
        ]

    # --- query parsing (Rest.li 2.0) --------------------------------------------------------
    def _args(self, request: Request) -> dict[str, str]:
        """The raw query string, split by hand: Rest.li values keep ``():,`` unencoded, so
        werkzeug's decoding would hide a wrongly encoded request. Checks the headers first."""
        self._check_headers(request)
        raw = request.query_string.decode("latin-1")
        args: dict[str, str] = {}
        for part in raw.split("&") if raw else []:
            key, _, value = part.partition("=")
            if re.search(r"%28|%29|%2C", value, re.IGNORECASE):
                raise bad_request(
                    f"Invalid query parameter {key}: Rest.li syntax characters '(),' must not be "
                    "percent-encoded"
                )
            args[unquote(key)] = value
        for simple in ("q", "pivot", "timeGranularity", "pageSize", "pageToken", "fields"):
            if simple in args:
                args[simple] = unquote(args[simple])
        return args

    @staticmethod
    def _require(args: dict[str, str], key: str, value: str) -> None:
        if args.get(key) != value:
            raise bad_request(f"Invalid value for param {key}: expected {value}")

    # --- for the contract tests -------------------------------------------------------------
    def expected_keys(self, stream_name: str) -> set[tuple]:
        """Primary keys a correct connector holds for ``stream_name`` at the current clock."""
        accounts = [a for a in self.world.accounts if a.platform == PLATFORM]
        if stream_name == "ad_accounts":
            return {(a.account_id,) for a in accounts}
        groups = [g for a in accounts for g in self._groups(a)]
        if stream_name == "campaign_groups":
            return {(g.campaign_id,) for g in groups}
        if stream_name == "campaigns":
            return {(gid,) for g in groups for gid, _ in self._ad_groups(g)}
        if stream_name == "creatives":
            ids = {g.campaign_id for g in groups}
            return {
                (f"urn:li:sponsoredCreative:{ad.ad_id}",)
                for ad in self.world.ads
                if ad.platform == PLATFORM and ad.campaign_id in ids
            }
        if stream_name == "ad_analytics":
            return {
                (f"urn:li:sponsoredCreative:{r.ad.ad_id}", r.day.isoformat())
                for r in self.world.ad_days_as_of(self.as_of, PLATFORM)
                if r.day >= self.world.start
            }
        raise KeyError(f"linkedin has no stream {stream_name!r}")


# --- rendering helpers (pure) -----------------------------------------------------------------
def _ms(moment: datetime) -> int:
    """LinkedIn timestamps: epoch milliseconds."""
    return int(moment.timestamp() * 1000)


def _ymd(d: date) -> dict[str, int]:
    return {"year": d.year, "month": d.month, "day": d.day}


#: each pivot's URN prefix and the ``Ad`` attribute with its id
_PIVOT_URN = {
    "CREATIVE": ("urn:li:sponsoredCreative:", "ad_id"),
    "CAMPAIGN": ("urn:li:sponsoredCampaign:", "ad_group_id"),
    "CAMPAIGN_GROUP": ("urn:li:sponsoredCampaignGroup:", "campaign_id"),
    "ACCOUNT": ("urn:li:sponsoredAccount:", "account_id"),
}


def _pivot_urn(row: AdDay, pivot: str) -> str:
    """The row's URN at ``pivot`` (only that one: the four of them were built for every row)."""
    prefix, attr = _PIVOT_URN[pivot]
    return f"{prefix}{getattr(row.ad, attr)}"


def cost_string(amount: Decimal, salt: str) -> str:
    """A cost the way adAnalytics writes it: a long decimal string whose float noise rounds
    away at 6 places (``"107.5300000000000335346"`` or ``"107.52999999999999"``)."""
    digest = int(hashlib.sha256(salt.encode()).hexdigest()[:8], 16)
    cents = f"{amount:.2f}"
    if digest % 3 == 0:
        return cents  # sometimes clean
    if digest % 3 == 1 and amount > 0:
        below = amount - Decimal("0.00000000000001")
        return f"{below:.14f}" + str(digest % 97)
    return cents + "000000000000" + str(100000 + digest % 900000)


#: the EUR -> USD rate of ``costInUsd``
_USD_RATE = Decimal("1.0841")


def _analytics_row(start: date, end: date, urn: str, days: list[AdDay]) -> dict[str, Any]:
    spend, impressions, clicks, leads = ad_day_totals(days)
    salt = f"{urn}/{start}/{end}"
    return {
        "dateRange": {"start": _ymd(start), "end": _ymd(end)},
        "pivotValues": [urn],
        "impressions": impressions,
        "clicks": clicks,
        "landingPageClicks": clicks,
        "costInLocalCurrency": cost_string(spend, salt),
        "costInUsd": cost_string(spend * _USD_RATE, salt + "usd"),
        "externalWebsiteConversions": leads,
        "oneClickLeads": 0,
        "conversionValueInLocalCurrency": "0",
    }


def _urn_list(raw: str, kind: str, name: str) -> list[str]:
    """``List(urn%3Ali%3A<kind>%3A1,...)``: colons inside URNs percent-encoded, the rest not."""
    match = re.fullmatch(rf"List\(({_URN.format(kind=kind)}(?:,{_URN.format(kind=kind)})*)\)", raw)
    if not match:
        raise bad_request(
            f"Invalid value for param {name}: {raw} (expected List(urn%3Ali%3A{kind}%3A<id>,...))"
        )
    return re.findall(_URN.format(kind=kind), match.group(1))


def _search_statuses(args: dict[str, str]) -> frozenset[str]:
    raw = args.get("search")
    if raw is None:
        return DEFAULT_VISIBLE
    match = SEARCH_STATUS_RE.fullmatch(raw)
    if not match:
        raise bad_request(f"Invalid value for param search: {raw}")
    return frozenset(match.group(1).split(","))


def _fields(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ("impressions", "clicks", "dateRange", "pivotValues")
    fields = tuple(f for f in raw.split(",") if f)
    if len(fields) > MAX_FIELDS:
        raise bad_request(f"Too many fields requested: {len(fields)} (at most {MAX_FIELDS})")
    for f in fields:
        if f not in ANALYTICS_FIELDS:
            raise bad_request(f"Invalid field: {f}")
    return fields


def _page(rows: list[dict[str, Any]], args: dict[str, str], fault: str | None = None) -> dict[str, Any]:
    """Cursor paging: ``metadata.nextPageToken`` only while rows remain; the paging faults shape
    it: ``short_page`` half the page size, ``empty_page`` no elements and a token to the same
    offset (spelled ``offset:<n>:e``: opaque, so it is no repeat), ``repeat_cursor`` the elements
    and the request's own token (a first page: a token to offset 0)."""
    try:
        size = int(args.get("pageSize", DEFAULT_PAGE_SIZE))
    except ValueError as exc:
        raise bad_request("Invalid value for param pageSize") from exc
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_request(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    offset = 0
    if "pageToken" in args:
        try:
            text = base64.urlsafe_b64decode(args["pageToken"] + "=" * (-len(args["pageToken"]) % 4)).decode()
            prefix, index, *mark = text.split(":")
            if prefix != "offset" or mark not in ([], ["e"]):
                raise ValueError(prefix)
            offset = int(index)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request("Invalid pageToken") from exc

    def token(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    if fault == "short_page":
        size = max(1, size // 2)
    if fault == "empty_page" and offset < len(rows):
        return {"elements": [], "metadata": {"nextPageToken": token(f"offset:{offset}:e")}}
    chunk = rows[offset : offset + size]
    metadata: dict[str, Any] = {}
    if fault == "repeat_cursor" and chunk:
        metadata["nextPageToken"] = token(f"offset:{offset}")
    elif offset + size < len(rows):
        metadata["nextPageToken"] = token(f"offset:{offset + size}")
    return {"elements": chunk, "metadata": metadata}
