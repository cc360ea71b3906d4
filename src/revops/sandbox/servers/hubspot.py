"""A fake HubSpot CRM API serving the synthetic company in HubSpot's wire format.

Everything is derived from the world *as of* ``self.as_of``: contacts appear at their creation,
lifecycle stages and stage-entry dates show once reached, merged-away duplicates vanish from
search at their merge and the survivor lists them in ``hs_merged_object_ids``. Every property is a
string (datetimes ISO with millis and ``Z``), never-set properties are ``null``.

What makes it a useful adversary for the connector:

* search enforces HubSpot's result cap (``search_cap``, 10,000 in production; tests lower it)
  with HTTP 400 when ``after + limit`` passes it, and ``limit`` <= 200;
* ``bulk_edit_at`` stamps every contact existing at that moment with one identical
  ``lastmodifieddate`` (a month-end bulk edit), so "restart from the last timestamp" loops;
* normal responses carry ``X-HubSpot-RateLimit-*`` headers from a rolling 10-second window;
* faults are rendered the HubSpot way (429 RATE_LIMIT bodies, 401 EXPIRED_AUTHENTICATION, ...).

This module must not import the connector (and the connector never imports it).
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
import time
import unicodedata
import uuid
import zlib
from urllib.parse import quote_plus
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import SandboxApp, json_response
from revops.sandbox.world import (
    ACTIVITY_KINDS,
    HUBSPOT_STAGE,
    Activity,
    Campaign,
    Contact,
    Deal,
    Touch,
    World,
)

#: HubSpot's hard cap on results reachable through one search query
DEFAULT_SEARCH_CAP = 10_000
MAX_SEARCH_LIMIT = 200
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS_TOTAL = 25
RATE_INTERVAL_MS = 10_000
#: lifecycle stages in funnel order (subscriber first)
_STAGE_ORDER = ("subscriber", "lead", "mql", "sql", "opportunity", "customer")
#: properties compared as datetimes (record values ISO, filter values epoch-ms or ISO)
_DATETIME_PROPS = {
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "closedate",
    "hs_first_outreach_date",
    "lead_rejected_date",
    "hs_timestamp",
    "hs_createdate",
    "hs_meeting_start_time",
    "hs_meeting_end_time",
    *(f"hs_v2_date_entered_{s}" for s in HUBSPOT_STAGE.values()),
}
_NUMERIC_PROPS = {"hs_object_id", "amount"}
#: properties HubSpot returns on every search result, requested or not
_DEFAULT_PROPS = {
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
    "deals": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    **{k: ("hs_createdate", "hs_lastmodifieddate", "hs_object_id") for k in ACTIVITY_KINDS},
}
#: the property holding each object's last change (the search cursor)
_MODIFIED_PROP = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate",
                  "companies": "hs_lastmodifieddate",
                  **{k: "hs_lastmodifieddate" for k in ACTIVITY_KINDS}}
_CREATED_PROP = {"contacts": "createdate", "deals": "createdate", "companies": "createdate",
                 **{k: "hs_createdate" for k in ACTIVITY_KINDS}}
#: v4 association type ids (HUBSPOT_DEFINED), from -> to
_ASSOCIATION_TYPE = {
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("calls", "contacts"): 194, ("emails", "contacts"): 198, ("meetings", "contacts"): 200,
    ("contacts", "calls"): 193, ("contacts", "emails"): 197, ("contacts", "meetings"): 199,
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
}
#: the "Primary" label's type id of the company pairs (each also carries the unlabeled type)
_PRIMARY_TYPE = {
    ("contacts", "companies"): 1, ("companies", "contacts"): 2,
    ("deals", "companies"): 5, ("companies", "deals"): 6,
}
#: a company's id: ``COMPANY_ID_BASE + <world id of the contact whose deal made it>``
#: (deterministic, clear of deals 5000001..., activities 4e10, touches 7e10, merged ids 9e10)
COMPANY_ID_BASE = 30_000_000_000
#: companies' web domains (a reserved example TLD)
COMPANY_DOMAIN = "example.com.br"
#: a merge mints a new record id (HubSpot changelog, "Updated merge functionality for contacts
#: and companies"): the person's k-th merged record
#: is ``MERGED_ID_BASE + k * MERGED_ID_STEP + <survivor's world contact id>``: deterministic,
#: never colliding with the world's own ids (100001...), and, like HubSpot's, a later record has
#: a larger id of the same length (so "the smallest survivor id" picks a stale one in a chain)
MERGED_ID_BASE = 90_000_000_000
MERGED_ID_STEP = 1_000_000_000
#: archived records stay listable this long (HubSpot's recycle bin)
ARCHIVE_DAYS = 90
MAX_LIST_LIMIT = 100
#: the hs_call_disposition GUID HubSpot uses for "Connected"
CONNECTED = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
#: the portal is Brazilian: its admins relabelled the default stages (the ids stay), so
#: neither a label nor an id says "won"; only ``metadata`` does
_DEAL_STAGES = (
    # id, label, probability, closed
    ("appointmentscheduled", "Reunião agendada", "0.2", False),
    ("qualifiedtobuy", "Qualificado para compra", "0.4", False),
    ("presentationscheduled", "Apresentação agendada", "0.6", False),
    ("decisionmakerboughtin", "Decisor convencido", "0.8", False),
    ("contractsent", "Contrato enviado", "0.9", False),
    ("closedwon", "Negócio fechado", "1.0", True),
    ("closedlost", "Perdido", "0.0", True),
)
#: a second pipeline with custom (numeric) stage ids, as portals add them
RENEWALS_PIPELINE = ("87654321", "Renovações")
_RENEWAL_STAGES = (
    ("87654322", "Renovação em aberto", "0.5", False),
    ("87654323", "Renovado", "1.0", True),
    ("87654324", "Cancelado", "0.0", True),
)

#: (pipeline id, label, stages) as ``GET /crm/v3/pipelines/deals`` lists them
_PIPELINES = (
    ("default", "Pipeline de vendas", _DEAL_STAGES),
    (*RENEWALS_PIPELINE, _RENEWAL_STAGES),
)


class SearchError(Exception):
    """A request HubSpot's search would reject with HTTP 400."""


def _merged_id(survivor_id: int, k: int) -> int:
    return MERGED_ID_BASE + k * MERGED_ID_STEP + survivor_id


# --------------------------------------------------------------------------- wire values
def hs_datetime(dt: datetime | None) -> str | None:
    """HubSpot's datetime string: ``2026-06-03T14:22:05.123Z`` (UTC, millis)."""
    if dt is None:
        return None
    if dt.tzinfo is not UTC:  # the world's times are UTC already: 1.7 us a call, not 2.2
        dt = dt.astimezone(UTC)
    # isoformat: a third of strftime's time, on every datetime of every record served
    return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(dt: datetime) -> int:
    # the epoch built once and no conversion of a UTC time: 0.3 us a call, not 1.6 (every
    # submission served, every datetime a search filter or index compares)
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return (dt - _EPOCH) // _MS


def parse_ms(value: Any) -> int | None:
    """A filter or record datetime as epoch ms: accepts epoch-ms strings/ints and ISO strings."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SearchError(f"{value!r} is not a valid datetime") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return epoch_ms(dt)


def _visible(t: datetime | None, as_of: datetime) -> datetime | None:
    return t if t is not None and t <= as_of else None


def _correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": _correlation_id(),
        "category": category,
        **extra,
    }


# --------------------------------------------------------------------------- filters
def _comparable(prop: str, value: Any) -> Any:
    """Turn a record or filter value into something ordered the way HubSpot orders it."""
    if value is None or value == "":
        return None
    if prop in _DATETIME_PROPS:
        return parse_ms(value)
    if prop in _NUMERIC_PROPS:
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise SearchError(f"{value!r} is not a number for {prop}") from exc
    return str(value)


def _filter_matches(flt: dict[str, Any], props: dict[str, str | None]) -> bool:
    prop = flt.get("propertyName")
    op = flt.get("operator")
    if not prop or not op:
        raise SearchError("each filter needs propertyName and operator")
    have = _comparable(prop, props.get(prop))
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if op in ("IN", "NOT_IN"):
        values = {_comparable(prop, v) for v in flt.get("values") or []}
        return (have in values) == (op == "IN")
    want = _comparable(prop, flt.get("value"))
    if op == "EQ":
        return have == want
    if op == "NEQ":
        return have != want
    if have is None or want is None:
        return False
    if op == "GT":
        return have > want
    if op == "GTE":
        return have >= want
    if op == "LT":
        return have < want
    if op == "LTE":
        return have <= want
    if op == "BETWEEN":
        high = _comparable(prop, flt.get("highValue"))
        return high is not None and want <= have <= high
    raise SearchError(f"operator {op!r} is not supported")


#: the operators the search index answers by bisection
_RANGE_OPS = {"GT", "GTE", "LT", "LTE"}


def _bisect_range(values: list[Any], filters: list[tuple[str, Any]], lo: int, hi: int) -> tuple[int, int]:
    """The slice ``[lo, hi)`` of ascending ``values`` that passes every ``(operator, value)``."""
    for op, want in filters:
        if op == "GT":
            lo = max(lo, bisect.bisect_right(values, want))
        elif op == "GTE":
            lo = max(lo, bisect.bisect_left(values, want))
        elif op == "LT":
            hi = min(hi, bisect.bisect_left(values, want))
        else:  # LTE
            hi = min(hi, bisect.bisect_right(values, want))
    return lo, max(lo, hi)


def _matches(groups: list[dict[str, Any]], props: dict[str, str | None]) -> bool:
    """OR between groups, AND inside a group; no groups = everything."""
    if not groups:
        return True
    return any(all(_filter_matches(f, props) for f in g.get("filters") or []) for g in groups)


def _check_filter_limits(groups: Any) -> list[dict[str, Any]]:
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise SearchError("filterGroups must be a list")
    if len(groups) > MAX_FILTER_GROUPS:
        raise SearchError(f"at most {MAX_FILTER_GROUPS} filterGroups are allowed")
    total = 0
    for g in groups:
        n = len(g.get("filters") or [])
        if n > MAX_FILTERS_PER_GROUP:
            raise SearchError(f"at most {MAX_FILTERS_PER_GROUP} filters per group are allowed")
        total += n
    if total > MAX_FILTERS_TOTAL:
        raise SearchError(f"at most {MAX_FILTERS_TOTAL} filters in total are allowed")
    return groups


# --------------------------------------------------------------------------- the app
class HubSpotSandbox(SandboxApp):
    platform = "hubspot"

    def __init__(
        self,
        world: World,
        *,
        token: str,
        as_of: datetime | None = None,
        search_cap: int = DEFAULT_SEARCH_CAP,
        bulk_edit_at: datetime | None = None,
        rate_limit_max: int = 190,
        utm_campaign_property: str = "utm_campaign",
        rejection_reason_property: str = "lead_rejection_reason",
        rejected_at_property: str = "lead_rejected_date",
    ):
        super().__init__(world.crm_view("hubspot"), token=token, as_of=as_of)
        #: results reachable by one search query (after + limit may not pass it)
        self.search_cap = search_cap
        #: a bulk edit: every contact existing then gets this lastmodifieddate (None = no edit)
        self.bulk_edit_at = bulk_edit_at
        #: requests per rolling 10 s window reported in X-HubSpot-RateLimit-* (not enforced)
        self.rate_limit_max = rate_limit_max
        #: ids of related records returned per association result before paging
        self.association_page_size = 500
        #: deal id -> more contact ids associated with it (a buying committee), for tests
        self.extra_deal_contacts: dict[int, list[int]] = {}
        #: world contact id (a company's) -> more world contacts at that company (unlabeled)
        self.extra_company_contacts: dict[int, list[int]] = {}
        self.utm_campaign_property = utm_campaign_property
        self.rejection_reason_property = rejection_reason_property
        self.rejected_at_property = rejected_at_property
        self._recent: deque[float] = deque()
        self._rate_lock = threading.Lock()

    # --- routing -----------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule("/crm/v3/objects/<object_type>/search", endpoint="search", methods=["POST"]),
            Rule(
                "/crm/objects/<version>/<object_type>/search", endpoint="search", methods=["POST"]
            ),
            Rule("/crm/v3/objects/<object_type>", endpoint="list_objects", methods=["GET"]),
            Rule("/crm/objects/<version>/<object_type>", endpoint="list_objects", methods=["GET"]),
            Rule("/crm/v3/objects/<object_type>/batch/read", endpoint="batch_read",
                 methods=["POST"]),
            Rule("/crm/v3/objects/<object_type>/<object_id>", endpoint="get_object",
                 methods=["GET"]),
            Rule("/crm/objects/<version>/<object_type>/<object_id>", endpoint="get_object",
                 methods=["GET"]),
            Rule("/crm/v3/owners", endpoint="owners", methods=["GET"]),
            Rule("/crm/v3/owners/", endpoint="owners", methods=["GET"]),
            Rule(
                "/crm/v4/associations/<from_type>/<to_type>/batch/read",
                endpoint="associations",
                methods=["POST"],
            ),
            Rule("/crm/v3/pipelines/<object_type>", endpoint="pipelines", methods=["GET"]),
            Rule("/marketing/v3/forms", endpoint="forms", methods=["GET"]),
            Rule("/marketing/v3/forms/", endpoint="forms", methods=["GET"]),
            Rule("/form-integrations/v1/submissions/forms/<form_guid>", endpoint="submissions",
                 methods=["GET"]),
        ]

    def dispatch(self, request: Request) -> Response:
        """Every response (faults included) carries the rate-limit headers, as HubSpot's do."""
        response = super().dispatch(request)
        remaining = self._count_request()
        if response.status_code != 429:
            response.headers.update(self._rate_headers(remaining))
        return response

    def _count_request(self) -> int:
        now = time.monotonic()
        with self._rate_lock:
            self._recent.append(now)
            while self._recent and now - self._recent[0] > RATE_INTERVAL_MS / 1000:
                self._recent.popleft()
            return max(0, self.rate_limit_max - len(self._recent))

    def _rate_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.rate_limit_max),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(RATE_INTERVAL_MS),
            "X-HubSpot-RateLimit-Daily": "650000",
            "X-HubSpot-RateLimit-Daily-Remaining": "649000",
        }

    # --- auth and faults ------------------------------------------------------------------
    def unauthorized_response(self, request: Request) -> Response:
        return json_response(
            error_body(
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            ),
            401,
        )

    def not_found_response(self, request: Request) -> Response:
        return json_response(
            error_body(
                f"Unable to route request {request.method} {request.path}", "OBJECT_NOT_FOUND"
            ),
            404,
        )

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind in ("rate_limit", "rate_limit_daily"):
            daily = kind == "rate_limit_daily"
            policy = "daily" if daily else "ten_secondly_rolling"
            body = {
                "status": "error",
                "message": f"You have reached your {policy} limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": _correlation_id(),
                "policyName": "DAILY" if daily else "TEN_SECONDLY_ROLLING",
            }
            headers = {**self._rate_headers(0), "Retry-After": "0"}
            return json_response(body, 429, headers)
        if kind == "server_error":
            return json_response(error_body("internal error", "INTERNAL_ERROR"), 500)
        if kind == "bad_gateway":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502,
                            mimetype="text/html")
        if kind == "expired_token":
            return json_response(
                error_body(
                    "The OAuth token used to make this call expired 0 second(s) ago.",
                    "EXPIRED_AUTHENTICATION",
                ),
                401,
            )
        if kind == "missing_scopes":
            return json_response(
                error_body(
                    "This app hasn't been granted all required scopes to make this call. "
                    "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                    "MISSING_SCOPES",
                    errors=[
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]},
                        }
                    ],
                ),
                403,
            )
        raise NotImplementedError(kind)

    # --- the world as HubSpot records ---------------------------------------------------
    def contact_properties(self, c: Contact, at: datetime | None = None) -> dict[str, str | None]:
        """Every property the sandbox knows for one contact at ``at`` (default: the clock; an
        archived contact shows as it was when deleted)."""
        as_of = at or self.as_of
        entered = {s: _visible(c.stage_at.get(s), as_of) for s in _STAGE_ORDER[1:]}
        entered["subscriber"] = _visible(c.subscriber_at, as_of)
        reached = [s for s in _STAGE_ORDER if entered.get(s) is not None]
        rejected_at = _visible(c.rejected_at, as_of)
        touched_at = _visible(c.first_sales_touch_at, as_of)
        lead_status = _lead_status(rejected_at, touched_at, entered.get("mql"))
        merged = self.merged_object_ids(c, as_of)
        additional = [self.world.contact_by_id[i].email
                      for i in c.merged_ids_as_of(as_of, self.world)]
        paid = c.source_campaign is not None
        props: dict[str, str | None] = {
            "hs_object_id": self.hs_contact_id(c.contact_id, as_of),
            "email": c.email,
            "firstname": c.first_name,
            "lastname": c.last_name,
            "createdate": hs_datetime(c.created_at),
            "lastmodifieddate": hs_datetime(self._contact_modified(c, as_of)),
            "lifecyclestage": HUBSPOT_STAGE[reached[-1]] if reached else None,
            "hs_lead_status": lead_status,
            "hubspot_owner_id": c.owner_id,
            # the rollup as portals report it: set by the first engagement of any kind (an
            # incoming email, a marketing webinar), so it is not the first sales touch
            "hs_first_outreach_date": hs_datetime(self._first_engagement(c, as_of)),
            "hs_merged_object_ids": ";".join(merged) or None,
            # a merged-away duplicate's email lives on as a secondary email of the survivor
            "hs_additional_emails": ";".join(additional) or None,
            "hs_analytics_source": "PAID_SOCIAL" if paid else "DIRECT_TRAFFIC",
            "hs_analytics_source_data_1": "Facebook" if paid else None,
            "hs_analytics_source_data_2": c.utm_campaign if paid else None,
            self.utm_campaign_property: c.utm_campaign,
            self.rejection_reason_property: c.rejection_reason if rejected_at else None,
            self.rejected_at_property: hs_datetime(rejected_at),
        }
        for stage, name in HUBSPOT_STAGE.items():
            props[f"hs_v2_date_entered_{name}"] = hs_datetime(entered.get(stage))
        return props

    def lead_status_versions(self, c: Contact, at: datetime | None = None) -> list[dict[str, Any]]:
        """``propertiesWithHistory.hs_lead_status`` of one contact: a version per change of
        the status (created NEW, OPEN at the MQL, IN_PROGRESS at the first sales touch,
        UNQUALIFIED at the rejection), newest first, each ``{value, timestamp, sourceType,
        sourceId, sourceLabel, updatedByUserId}`` as the v3 objects API sends them."""
        as_of = at or self.as_of
        times = sorted(t for t in (c.created_at, c.stage_at.get("mql"), c.first_sales_touch_at,
                                   c.rejected_at) if t is not None and t <= as_of)
        versions: list[dict[str, Any]] = []
        for t in times:
            value = _lead_status(_visible(c.rejected_at, t), _visible(c.first_sales_touch_at, t),
                                 _visible(c.stage_at.get("mql"), t))
            if versions and versions[-1]["value"] == value:
                continue
            versions.append({"value": value, "timestamp": hs_datetime(t), "sourceType": "CRM_UI",
                             "sourceId": None, "sourceLabel": None,
                             "updatedByUserId": None})
        return versions[::-1]

    # --- merges mint new ids ----------------------------------------------------------------
    def _merges(self, survivor: Contact, as_of: datetime) -> list[Contact]:
        """The duplicates merged into ``survivor`` by ``as_of``, in merge order."""
        dups = [self.world.contact_by_id[i] for i in survivor.merged_ids_as_of(as_of, self.world)]
        return sorted(dups, key=lambda d: (d.merged_at, d.contact_id))

    def person_of(self, world_id: int, as_of: datetime | None = None) -> Contact:
        """The world contact standing for ``world_id`` at the clock (a merged-away duplicate's
        survivor, followed through chains)."""
        as_of = as_of or self.as_of
        c = self.world.contact_by_id[world_id]
        while c.merged_into is not None and c.merged_at is not None and c.merged_at <= as_of:
            c = self.world.contact_by_id[c.merged_into]
        return c

    def hs_contact_id(self, world_id: int, as_of: datetime | None = None) -> str:
        """The HubSpot id the person of ``world_id`` has at the clock: its world id until its
        first merge, then a new id per merge (``MERGED_ID_BASE + k * MERGED_ID_STEP + id``)."""
        if as_of is None or as_of == self.as_of:  # associations ask for every link: cached
            return self._hs_ids().get(world_id) or str(world_id)
        return self._hs_contact_id(world_id, as_of)

    def _hs_ids(self) -> dict[int, str]:
        """world contact id -> its HubSpot id at the clock (:meth:`hs_contact_id`), kept per
        clock."""
        return self._built_once(("hs_ids",), (self.as_of,), lambda: {
            c.contact_id: self._hs_contact_id(c.contact_id, self.as_of) for c in self.world.contacts})

    def _hs_contact_id(self, world_id: int, as_of: datetime) -> str:
        if world_id not in self.world.contact_by_id:
            return str(world_id)  # a test's association to a contact the CRM never had
        person = self.person_of(world_id, as_of)
        k = len(person.merged_ids_as_of(as_of, self.world))
        return str(person.contact_id if k == 0 else _merged_id(person.contact_id, k))

    def merged_object_ids(self, survivor: Contact, as_of: datetime) -> list[str]:
        """``hs_merged_object_ids`` of the person's current record: every id it had before
        (its world id, the record ids of earlier merges) and every duplicate's id, ascending."""
        dups = self._merges(survivor, as_of)
        ids = {survivor.contact_id, *(d.contact_id for d in dups)}
        ids |= {_merged_id(survivor.contact_id, k) for k in range(1, len(dups))}
        return [str(i) for i in sorted(ids)] if dups else []

    def current_id_of(self, any_id: str) -> str | None:
        """The live record id that ``GET /contacts/{any_id}`` answers with (an old id of a
        merged person resolves to the new record); None when there is no live record."""
        try:
            n = int(any_id)
        except ValueError:
            return None
        world_id = n % MERGED_ID_STEP if n >= MERGED_ID_BASE else n
        c = self.world.contact_by_id.get(world_id)
        if c is None:
            return None
        person = self.person_of(world_id)
        if not person.visible(self.as_of):
            return None
        current = self.hs_contact_id(person.contact_id)
        if n >= MERGED_ID_BASE and str(n) != current and str(n) not in \
                self.merged_object_ids(person, self.as_of):
            return None  # a merged id this person never had (yet)
        return current

    def _contact_modified(self, c: Contact, as_of: datetime) -> datetime:
        modified = c.last_modified(as_of, self.world)
        engaged = self._first_engagement(c, as_of)  # sets hs_first_outreach_date: a change
        if engaged is not None:
            modified = max(modified, engaged)
        edit = self.bulk_edit_at
        if edit is not None and edit <= as_of and c.created_at <= edit:
            modified = max(modified, edit)
        return modified

    def deal_properties(self, d: Deal, at: datetime | None = None) -> dict[str, str | None]:
        as_of = at or self.as_of
        closed = d.is_closed_as_of(as_of)
        return {
            "hs_object_id": str(d.deal_id),
            "dealname": d.name,
            "amount": str(d.amount),
            # a single-currency portal leaves it unset: amounts are in the company currency
            "deal_currency_code": None,
            "dealstage": d.stage_as_of(as_of),
            "pipeline": d.pipeline,
            "closedate": hs_datetime(d.close_at) if closed else None,
            "createdate": hs_datetime(d.created_at),
            "hs_lastmodifieddate": hs_datetime(d.last_modified(as_of)),
            "hs_is_closed": "true" if closed else "false",
            "hs_is_closed_won": "true" if closed and d.is_won else "false",
            "hs_is_closed_lost": "true" if closed and not d.is_won else "false",
            "hubspot_owner_id": d.owner_id,
        }

    # --- companies: the buying organisation of each contact with a deal ----------------------
    @cached_property
    def _company_deals(self) -> dict[int, list[Deal]]:
        """world contact id -> its deals, oldest first (deleted ones too: deleting a deal does
        not delete the company it made)."""
        out: dict[int, list[Deal]] = {}
        for d in sorted(self.world.deals, key=lambda d: (d.created_at, d.deal_id)):
            out.setdefault(d.contact_id, []).append(d)
        return out

    def company_of(self, world_id: int, as_of: datetime | None = None) -> Contact | None:
        """The contact whose company ``world_id``'s person belongs to at the clock (None: no
        deal yet, so no company)."""
        as_of = as_of or self.as_of
        if world_id not in self.world.contact_by_id:
            return None
        c = self.person_of(world_id, as_of)
        deals = self._company_deals.get(c.contact_id, [])
        return c if deals and deals[0].created_at <= as_of else None

    def _companies(self) -> list[Contact]:
        """Contacts whose company exists and is live at the clock."""
        return [
            c for c in self.world.contacts
            if self.company_of(c.contact_id) is c and not c.deleted_by(self.as_of)
        ]

    def company_properties(self, c: Contact, at: datetime | None = None) -> dict[str, str | None]:
        """The company created with ``c``'s first deal: named after the contact, ``customer``
        once one of its deals is won (when the world's contact becomes a customer), owned by
        the first deal's owner (the account executive)."""
        as_of = at or self.as_of
        first = self._company_deals[c.contact_id][0]
        won = [d.close_at for d in self._company_deals[c.contact_id]
               if d.is_won and d.close_at is not None and d.close_at <= as_of]
        modified = max([first.created_at, *won])
        return {
            "hs_object_id": company_id(c),
            "name": company_name(c),
            "domain": company_domain(c),
            "lifecyclestage": "customer" if won else "opportunity",
            "createdate": hs_datetime(first.created_at),
            "hs_lastmodifieddate": hs_datetime(modified),
            "hubspot_owner_id": first.owner_id,
        }

    def activity_properties(self, a: Activity) -> dict[str, str | None]:
        """A call, email or meeting: logged when it happened, never edited afterwards."""
        when = hs_datetime(a.at)
        props: dict[str, str | None] = {
            "hs_object_id": str(a.activity_id),
            "hs_timestamp": when,
            "hs_createdate": when,
            "hs_lastmodifieddate": when,
            "hubspot_owner_id": a.owner_id,
        }
        if a.kind == "calls":
            props |= {"hs_call_direction": a.direction, "hs_call_status": "COMPLETED",
                      "hs_call_disposition": CONNECTED, "hs_call_title": "Intro call"}
        elif a.kind == "emails":
            incoming = a.direction == "INCOMING_EMAIL"
            props |= {"hs_email_direction": a.direction,
                      "hs_email_status": None if incoming else "SENT",
                      "hs_email_subject": "Question about pricing" if incoming
                      else "Following up on your request"}
        else:
            props |= {"hs_meeting_start_time": when,
                      "hs_meeting_end_time": hs_datetime(a.at + timedelta(minutes=45)),
                      "hs_meeting_outcome": "COMPLETED",
                      "hs_meeting_title": "Webinar: RevOps 101" if a.owner_id else "Meeting"}
        return props

    @cached_property
    def _engagement_times(self) -> dict[int, list[datetime]]:
        out: dict[int, list[datetime]] = {}
        for a in self.world.activities:
            for cid in a.contact_ids:
                out.setdefault(cid, []).append(a.at)
        return {cid: sorted(times) for cid, times in out.items()}

    def _first_engagement(self, c: Contact, as_of: datetime) -> datetime | None:
        return next((t for t in self._engagement_times.get(c.contact_id, ()) if t <= as_of), None)

    def _activities(self, kind: str) -> list[Activity]:
        return [a for a in self.world.activities if a.kind == kind and a.at <= self.as_of]

    def _archived(self, object_type: str) -> list[tuple[Contact | Deal, datetime]]:
        """``(record, deleted_at)`` of the records in the recycle bin at the clock."""
        if object_type == "contacts":
            pool: list[Contact | Deal] = [*self.world.contacts]
        elif object_type == "deals":
            pool = [*self.world.deals]
        elif object_type == "companies":
            # a company goes to the bin with its contact (the world never deletes a contact
            # with a deal, so in practice never)
            return [
                (c, c.deleted_at) for c in self.world.contacts
                if c.deleted_at is not None and c.deleted_by(self.as_of)
                and self.company_of(c.contact_id, c.deleted_at) is c
                and self.as_of - timedelta(days=ARCHIVE_DAYS) < c.deleted_at
            ]
        else:
            return []
        oldest = self.as_of - timedelta(days=ARCHIVE_DAYS)
        return [
            (r, r.deleted_at)
            for r in pool
            if r.deleted_at is not None and r.created_at <= self.as_of
            and oldest < r.deleted_at <= self.as_of
        ]

    def _records(self, object_type: str, archived: bool = False) -> list[dict[str, Any]]:
        """``[{"id", "props", "createdAt", "updatedAt"}]`` at the clock, ascending id
        (``archived``: the recycle bin's records, with ``archivedAt``).

        Cached per clock and switches: paging a large world must not rebuild it per page."""
        switches = (
            self.as_of,
            self.bulk_edit_at,
            self.utm_campaign_property,
            self.rejection_reason_property,
            self.rejected_at_property,
        )
        return self._built_once((object_type, archived), switches, lambda: (
            self._build_archived(object_type) if archived else self._build_records(object_type)))

    def prerender(self) -> dict[str, int]:
        """Build the records every CRM object's search and recycle bin serve at the clock (what
        the first requests would otherwise build: :meth:`SandboxApp.prerender`). Records per
        object type.

        With them what else the first requests at a clock build: the search's index on each
        object's last-modified date, the contacts by id (their batch reads), the association maps a
        sync reads (each object to its contacts and companies) and every form's submissions.
        Left to the sync, the large world's incremental night waited on them (with the ad
        platforms' rows: 27.3 s of extraction, 14.7 s once built; bench/README.md)."""
        rendered = {}
        for object_type in ("contacts", "deals", "companies", *ACTIVITY_KINDS):
            records = self._records(object_type)
            rendered[object_type] = len(records)
            self._index(object_type, _MODIFIED_PROP[object_type], records)
            if object_type in ("contacts", "deals", "companies"):
                rendered[f"{object_type} archived"] = len(self._records(object_type, archived=True))
        self._records_by_id("contacts")
        for from_type, to_type in _ASSOCIATION_TYPE:
            if to_type in ("contacts", "companies"):
                self._association_map(from_type, to_type)
        for guid, _ in self._forms():
            self._submissions(guid)
        return rendered

    def _build_records(self, object_type: str) -> list[dict[str, Any]]:
        builders: dict[str, tuple[Callable[[], list], Callable[[Any], dict]]] = {
            "contacts": (lambda: self.world.contacts_as_of(self.as_of), self.contact_properties),
            "deals": (lambda: self.world.deals_as_of(self.as_of), self.deal_properties),
            "companies": (self._companies, self.company_properties),
            **{
                kind: (lambda kind=kind: self._activities(kind), self.activity_properties)
                for kind in ACTIVITY_KINDS
            },
        }
        if object_type not in builders:
            raise KeyError(object_type)
        objects, props_of = builders[object_type]
        modified, created = _MODIFIED_PROP[object_type], _CREATED_PROP[object_type]
        out = []
        for obj in objects():
            props = props_of(obj)
            out.append(
                {
                    "id": props["hs_object_id"],
                    "props": props,
                    "createdAt": props[created],
                    "updatedAt": props[modified],
                }
            )
        out.sort(key=lambda r: int(r["id"]))
        return out

    def _build_archived(self, object_type: str) -> list[dict[str, Any]]:
        """Deleted records as they were at their deletion; ``updatedAt`` = ``archivedAt``."""
        out = []
        for obj, deleted_at in self._archived(object_type):
            if object_type == "companies":
                props = self.company_properties(obj, at=deleted_at)  # type: ignore[arg-type]
            elif isinstance(obj, Contact):
                props = self.contact_properties(obj, at=deleted_at)
            else:
                props = self.deal_properties(obj, at=deleted_at)
            out.append(
                {
                    "id": props["hs_object_id"],
                    "props": props,
                    "createdAt": props["createdate"],
                    "updatedAt": hs_datetime(deleted_at),
                    "archivedAt": hs_datetime(deleted_at),
                }
            )
        out.sort(key=lambda r: int(r["id"]))
        return out

    def expected_keys(self, stream_name: str) -> set[tuple]:
        """Primary keys a full read of ``stream_name`` must yield at the current clock."""
        if stream_name == "owners":
            return {(o.owner_id,) for o in self.world.owners}
        if stream_name in ("contacts", "deals", "companies"):
            # the search's live records plus the recycle bin's (read with archived=true)
            live = {(r["id"],) for r in self._records(stream_name)}
            return live | {(r["id"],) for r in self._records(stream_name, archived=True)}
        if stream_name in ACTIVITY_KINDS:
            return {(str(a.activity_id),) for a in self._activities(stream_name)}
        if stream_name == "form_submissions":
            return self.expected_submissions()
        if stream_name == "deal_pipelines":
            return {(pid, sid) for pid, _, stages in _PIPELINES for sid, *_ in stages}
        raise KeyError(stream_name)

    # --- endpoints ------------------------------------------------------------------------
    def search(self, request: Request, object_type: str, version: str | None = None) -> Response:
        """``POST /crm/v3/objects/{type}/search`` (and the date-versioned twin)."""
        if object_type not in _DEFAULT_PROPS:
            return json_response(
                error_body(f"Unable to infer object type from: {object_type}", "OBJECT_NOT_FOUND"),
                404,
            )
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self._bad_request("Invalid input JSON: the body must be a JSON object")
        try:
            return json_response(self._search(object_type, body, request))
        except SearchError as exc:
            return self._bad_request(str(exc))

    def _search(self, object_type: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
        groups = _check_filter_limits(body.get("filterGroups"))
        limit = _int(body.get("limit", 10), "limit")
        after = _int(body.get("after", 0) or 0, "after")
        if not 0 < limit <= MAX_SEARCH_LIMIT:
            raise SearchError(f"limit must be between 1 and {MAX_SEARCH_LIMIT}, got {limit}")
        if after < 0:
            raise SearchError("after must be a non-negative offset")
        if after + limit > self.search_cap:
            raise SearchError(
                f"The search API cannot page past {self.search_cap} results "
                f"(after={after}, limit={limit}); narrow the query"
            )
        sorts = body.get("sorts") or []
        records = self._indexed_search(object_type, groups, sorts)
        if records is None:  # not a range query the index answers: look at every record
            records = [r for r in self._records(object_type) if _matches(groups, r["props"])]
            records = _sort(records, sorts)
        page, nxt = _page(records, after, limit, self.fault_of(request))
        requested = body.get("properties") or []
        wanted = list(dict.fromkeys([*_DEFAULT_PROPS[object_type], *requested]))
        out: dict[str, Any] = {
            "total": len(records),
            "results": [_render(r, wanted) for r in page],
        }
        if nxt is not None:
            out["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
        return out

    def _indexed_search(self, object_type: str, groups: list[dict[str, Any]],
                        sorts: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The matches of a search made of range filters (GT/GTE/LT/LTE, one group or none) on
        at most one date property plus ``hs_object_id``, sorted by id or by that date property,
        found by bisection in a per-clock index rather than by testing every record: the
        connector's keyset pages and its first/last probes are such queries, and a
        million-contact world cannot be scanned per page. The same records in the same order as
        the scan (:func:`_matches`, :func:`_sort`); None when the query is another shape."""
        if len(groups) > 1 or len(sorts) > 1:
            return None
        filters = (groups[0].get("filters") or []) if groups else []
        dated = {f.get("propertyName") for f in filters} - {"hs_object_id"}
        if (any(f.get("operator") not in _RANGE_OPS for f in filters)
                or len(dated) > 1 or not dated <= _DATETIME_PROPS):
            return None
        sort_prop, descending = None, False
        if sorts:
            sort_prop = sorts[0].get("propertyName")
            descending = str(sorts[0].get("direction", "ASCENDING")).upper() == "DESCENDING"
            if sort_prop == "hs_object_id" and not descending:
                sort_prop = None  # the records' own order
            elif sort_prop not in _DATETIME_PROPS or (dated and sort_prop not in dated):
                return None
        try:
            bounds = [(f["propertyName"], f["operator"], _comparable(f["propertyName"], f.get("value")))
                      for f in filters]
        except SearchError:
            return None  # the scan reports it (or not, when nothing is there to compare)
        if any(want is None for _, _, want in bounds):
            return []  # a range against nothing matches no record
        records = self._records(object_type)
        # hs_object_id: the records are in ascending id order, so an id range is a slice
        ids = self._index(object_type, "hs_object_id", records)[0]
        first, stop = _bisect_range(ids, [(op, want) for prop, op, want in bounds if prop == "hs_object_id"],
                                    0, len(records))
        prop = sort_prop or next(iter(dated), None)
        if prop is None:
            return records[first:stop]
        values, positions, missing = self._index(object_type, prop, records)
        lo, hi = _bisect_range(values, [(op, want) for p, op, want in bounds if p == prop], 0, len(values))
        if sort_prop is None:
            chosen = self._window_positions(object_type, prop, records, positions, lo, hi)
            return [records[i] for i in chosen[bisect.bisect_left(chosen, first):bisect.bisect_left(chosen, stop)]]
        # by the date: ascending (value, id) is the index's own order; descending keeps ties by
        # ascending id, as the scan's stable sort does; records without it last, by id
        pairs = [(values[k], positions[k]) for k in range(lo, hi) if first <= positions[k] < stop]
        if descending:
            pairs.sort(key=lambda pair: (-pair[0], pair[1]))
        out = [records[i] for _, i in pairs]
        if not dated:
            out += [records[i] for i in missing if first <= i < stop]
        return out

    def _window_positions(self, object_type: str, prop: str, records: list[dict[str, Any]],
                          positions: list[int], lo: int, hi: int) -> list[int]:
        """``positions[lo:hi]`` (``prop``'s index over ``records``) in ascending order (id order),
        kept for the last window asked per object type: a connector pages one window by keyset
        on the id, page after page, and sorting the window anew for each page cost
        O(window log window) a page (a 40k-contact month, 200 contacts a page)."""
        key = ("window", object_type)
        with self._cache_lock:
            kept = self._cache.get(key)
        if kept is not None and kept[0] is records and kept[1] == (prop, lo, hi):
            return kept[2]
        chosen = sorted(positions[lo:hi])
        with self._cache_lock:
            self._cache[key] = (records, (prop, lo, hi), chosen)  # type: ignore[assignment]
        return chosen

    def _records_by_id(self, object_type: str) -> dict[str, dict[str, Any]]:
        """:meth:`_records` by id, built once per records list (per clock)."""
        records = self._records(object_type)
        key = ("by_id", object_type)
        with self._cache_lock:
            kept = self._cache.get(key)
        if kept is not None and kept[0] is records:
            return kept[1]
        by_id = {r["id"]: r for r in records}
        with self._cache_lock:
            self._cache[key] = (records, by_id)  # type: ignore[assignment]
        return by_id

    def _index(self, object_type: str, prop: str,
               records: list[dict[str, Any]]) -> tuple[list[Any], list[int], list[int]]:
        """``prop``'s comparable values of the records that have it, ascending (ties by
        position), each one's position in ``records``, and the positions of the records without
        it; built once per records list (per clock)."""
        key = ("index", object_type, prop)
        with self._cache_lock:
            kept = self._cache.get(key)
        if kept is not None and kept[0] is records:
            return kept[1]
        pairs, missing = [], []
        for i, r in enumerate(records):
            v = _comparable(prop, r["props"].get(prop))
            if v is None:
                missing.append(i)
            else:
                pairs.append((v, i))
        pairs.sort()
        index = ([v for v, _ in pairs], [i for _, i in pairs], missing)
        with self._cache_lock:
            self._cache[key] = (records, index)  # type: ignore[assignment]
        return index

    def list_objects(
        self, request: Request, object_type: str, version: str | None = None
    ) -> Response:
        """``GET /crm/v3/objects/{type}?limit=&after=&properties=&archived=``.

        ``archived=true`` lists only the recycle bin (deleted records, ``archivedAt``), which
        search never shows; ``after`` is an opaque cursor (an offset here)."""
        if object_type not in _DEFAULT_PROPS:
            return json_response(
                error_body(f"Unable to infer object type from: {object_type}", "OBJECT_NOT_FOUND"),
                404,
            )
        try:
            limit, after = _page_args(request, 10, MAX_LIST_LIMIT)
        except SearchError as exc:
            return self._bad_request(str(exc))
        archived = request.args.get("archived", "false").lower() == "true"
        records = self._records(object_type, archived=archived)
        requested = [p for p in request.args.get("properties", "").split(",") if p]
        wanted = list(dict.fromkeys([*_DEFAULT_PROPS[object_type], *requested]))
        results = []
        page, nxt = _page(records, after, limit, self.fault_of(request))
        for r in page:
            item = _render(r, wanted)
            if archived:
                item["archived"] = True
                item["archivedAt"] = r["archivedAt"]
            results.append(item)
        body: dict[str, Any] = {"results": results}
        if nxt is not None:
            body["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
        return json_response(body)

    def get_object(
        self, request: Request, object_type: str, object_id: str, version: str | None = None
    ) -> Response:
        """``GET /crm/v3/objects/{type}/{id}?properties=``: one live record. A contact id that
        a merge retired answers with the merged record under its new id (HubSpot's merge since
        the new-id change); archived or unknown ids are 404."""
        if object_type not in _DEFAULT_PROPS:
            return self.not_found_response(request)
        wanted_id = self.current_id_of(object_id) if object_type == "contacts" else object_id
        record = next((r for r in self._records(object_type) if r["id"] == wanted_id), None)
        if record is None:
            return json_response(
                error_body("Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND"),
                404,
            )
        requested = [p for p in request.args.get("properties", "").split(",") if p]
        wanted = list(dict.fromkeys([*_DEFAULT_PROPS[object_type], *requested]))
        return json_response(_render(record, wanted))

    def batch_read(self, request: Request, object_type: str) -> Response:
        """``POST /crm/v3/objects/contacts/batch/read`` ``{"inputs": [{"id"}], "properties",
        "propertiesWithHistory"}``: live contacts by id (an id a merge retired answers with the
        merged record), each with ``propertiesWithHistory`` for the properties asked (the
        sandbox keeps history for ``hs_lead_status`` only; others come back empty). At most
        50 inputs when history is asked (HubSpot's limit for property history reads); ids
        without a live record are 207 errors."""
        if object_type != "contacts":
            return self._bad_request(f"The sandbox batch-reads contacts only, not {object_type}")
        body = request.get_json(silent=True) or {}
        inputs = body.get("inputs")
        with_history = [p for p in body.get("propertiesWithHistory") or [] if p]
        cap = 50 if with_history else 100
        if not isinstance(inputs, list) or not inputs or len(inputs) > cap:
            return self._bad_request(f"inputs must hold between 1 and {cap} items")
        started = hs_datetime(datetime.now(UTC))
        wanted = list(dict.fromkeys([*_DEFAULT_PROPS["contacts"], *(body.get("properties") or [])]))
        records = self._records_by_id("contacts")
        results, missing = [], []
        for item in inputs:
            asked = str(item.get("id"))
            current = self.current_id_of(asked)
            record = records.get(current) if current is not None else None
            if record is None:
                missing.append(asked)
                continue
            out = _render(record, wanted)
            n = int(current)  # type: ignore[arg-type]
            person = self.person_of(n % MERGED_ID_STEP if n >= MERGED_ID_BASE else n)
            out["propertiesWithHistory"] = {
                p: self.lead_status_versions(person) if p == "hs_lead_status" else []
                for p in with_history
            }
            results.append(out)
        body_out: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                    "startedAt": started,
                                    "completedAt": hs_datetime(datetime.now(UTC))}
        if missing:
            body_out["numErrors"] = 1
            body_out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                                   "message": "Could not get some CONTACT objects, they may be "
                                              "deleted or not exist.",
                                   "context": {"ids": missing}}]
            return json_response(body_out, 207)
        return json_response(body_out)

    def _bad_request(self, message: str) -> Response:
        return json_response(error_body(message, "VALIDATION_ERROR"), 400)

    def owners(self, request: Request) -> Response:
        """``GET /crm/v3/owners?limit=&after=&archived=``: offset-like ``after`` cursor."""
        try:
            limit, after = _page_args(request, 100, 500)
        except SearchError as exc:
            return self._bad_request(str(exc))
        archived = request.args.get("archived", "false").lower() == "true"
        owners = [] if archived else self.world.owners
        created = hs_datetime(datetime.combine(self.world.start, datetime.min.time(), UTC)
                              - timedelta(days=400))
        results = [
            {
                "id": o.owner_id,
                "email": o.email,
                "type": "PERSON",
                "firstName": o.first_name,
                "lastName": o.last_name,
                "userId": o.user_id,
                "userIdIncludingInactive": o.user_id,
                "createdAt": created,
                "updatedAt": created,
                "archived": False,
                "teams": [{"id": str(zlib.crc32(o.team.encode()) % 10**6), "name": o.team,
                           "primary": True}],
            }
            for o in _page(owners, after, limit, self.fault_of(request))[0]
        ]
        nxt = _page(owners, after, limit, self.fault_of(request))[1]
        body: dict[str, Any] = {"results": results}
        if nxt is not None:
            body["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
        return json_response(body)

    def associations(self, request: Request, from_type: str, to_type: str) -> Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``: deals, activities and
        companies <-> contacts, deals <-> companies. Company links carry the Primary type
        (contact->company 1, company->contact 2, deal->company 5, company->deal 6) before the
        unlabeled one (279, 280, 341, 342)."""
        links = self._association_map(from_type, to_type)
        if links is None:
            return self._bad_request(f"Unsupported association {from_type} -> {to_type}")
        body = request.get_json(silent=True) or {}
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs or len(inputs) > 1000:
            return self._bad_request("inputs must hold between 1 and 1000 items")
        started = hs_datetime(datetime.now(UTC))
        results, errors = [], []
        type_id = _ASSOCIATION_TYPE[(from_type, to_type)]
        primary = self._primary_links(from_type, to_type)
        for item in inputs:
            from_id = str(item.get("id"))
            to_ids = links.get(from_id, [])
            if not to_ids:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {to_type} is associated with {from_type[:-1]} {from_id}.",
                        "context": {"fromObjectId": [from_id]},
                    }
                )
                continue
            offset = _int(item.get("after", 0) or 0, "after")
            chunk = to_ids[offset : offset + self.association_page_size]
            result: dict[str, Any] = {
                "from": {"id": from_id},
                "to": [
                    {
                        "toObjectId": int(t),
                        "associationTypes": (
                            [{"category": "HUBSPOT_DEFINED",
                              "typeId": _PRIMARY_TYPE[(from_type, to_type)],
                              "label": "Primary"}]
                            if (from_id, t) in primary else []
                        ) + [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
                    }
                    for t in chunk
                ],
            }
            if offset + len(chunk) < len(to_ids):
                result["paging"] = {"next": {"after": str(offset + len(chunk))}}
            results.append(result)
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": hs_datetime(datetime.now(UTC)),
        }
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
            return json_response(out, 207)
        return json_response(out)

    def _association_map(self, from_type: str, to_type: str) -> dict[str, list[str]] | None:
        """from id -> [to ids] at the clock; None for a pair the sandbox does not serve.

        Kept per clock (and the tests' extra links): every batch read of a large world's
        associations would rebuild it from every record."""
        return self._per_clock(("associations", from_type, to_type),
                               lambda: self._build_association_map(from_type, to_type))

    def _per_clock(self, name: tuple, build: Callable[[], Any]) -> Any:
        """``build()``, kept for the clock and the tests' extra links (the previous clock's
        answer is dropped)."""
        extra = tuple(tuple(sorted((k, tuple(v)) for k, v in links.items()))
                      for links in (self.extra_deal_contacts, self.extra_company_contacts))
        return self._built_once(name, (self.as_of, extra), build)

    def _build_association_map(self, from_type: str, to_type: str) -> dict[str, list[str]] | None:
        if (from_type, to_type) not in _ASSOCIATION_TYPE:
            return None
        if "companies" in (from_type, to_type):
            return self._company_map(from_type, to_type)
        activity = next((k for k in (from_type, to_type) if k in ACTIVITY_KINDS), None)
        # the ids at the clock looked up here, not through hs_contact_id's cache lookup (its
        # lock) for every link: the deal and activity maps of the large bench's world at scale
        # 0.1 took 0.71 s a clock, now 0.31 s
        ids = self._hs_ids()

        def hs_id(world_id: int) -> str:
            return ids.get(world_id) or str(world_id)

        if activity is not None:
            # associations follow a merge to the person's new record id
            links = list(dict.fromkeys(
                (str(a.activity_id), hs_id(c)) for a in self._activities(activity)
                for c in a.contact_ids))
            out: dict[str, list[str]] = {}
            for act, contact in links:
                if from_type == activity:
                    out.setdefault(act, []).append(contact)
                else:
                    out.setdefault(contact, []).append(act)
            return out
        deals = self.world.deals_as_of(self.as_of)
        pairs = list(dict.fromkeys(
            (str(d.deal_id), hs_id(c))
            for d in deals
            for c in [d.contact_id, *d.committee, *self.extra_deal_contacts.get(d.deal_id, [])]
        ))
        out = {}
        if (from_type, to_type) == ("deals", "contacts"):
            for deal, contact in pairs:
                out.setdefault(deal, []).append(contact)
            return out
        if (from_type, to_type) == ("contacts", "deals"):
            for deal, contact in pairs:
                out.setdefault(contact, []).append(deal)
            return out
        return None

    def _company_links(self) -> list[tuple[str, str, str, bool]]:
        """``(company id, kind, other id, primary)`` at the clock, kind ``contacts`` or
        ``deals``: the company's contact (its current id after merges; primary), the test's
        extra contacts (unlabeled) and its deals (primary)."""
        return self._per_clock(("company_links",), self._build_company_links)

    def _build_company_links(self) -> list[tuple[str, str, str, bool]]:
        out: list[tuple[str, str, str, bool]] = []
        for c in self._companies():
            cid = company_id(c)
            out.append((cid, "contacts", self.hs_contact_id(c.contact_id), True))
            for extra in self.extra_company_contacts.get(c.contact_id, []):
                out.append((cid, "contacts", self.hs_contact_id(extra), False))
            for d in self._company_deals[c.contact_id]:
                if d.visible(self.as_of):
                    out.append((cid, "deals", str(d.deal_id), True))
        return out

    def _company_map(self, from_type: str, to_type: str) -> dict[str, list[str]]:
        other = to_type if from_type == "companies" else from_type
        out: dict[str, list[str]] = {}
        for company, kind, other_id, _ in self._company_links():
            if kind != other:
                continue
            src, dst = (company, other_id) if from_type == "companies" else (other_id, company)
            if dst not in out.setdefault(src, []):
                out[src].append(dst)
        # ascending ids, as HubSpot lists them: the Primary one is not necessarily first
        return {k: sorted(v, key=int) for k, v in out.items()}

    def _primary_links(self, from_type: str, to_type: str) -> set[tuple[str, str]]:
        """``(from id, to id)`` pairs carrying the Primary label."""
        if (from_type, to_type) not in _PRIMARY_TYPE:
            return set()
        other = to_type if from_type == "companies" else from_type
        return self._per_clock(("primary_links", from_type, to_type), lambda: {
            (company, other_id) if from_type == "companies" else (other_id, company)
            for company, kind, other_id, primary in self._company_links()
            if kind == other and primary
        })

    # --- forms and their submissions (marketing touches) ------------------------------------
    def _forms(self) -> list[tuple[str, Campaign]]:
        """``(guid, campaign)`` of every landing-page form, in creation order: one a campaign."""
        return [(form_guid(c), c) for c in self.world.campaigns]

    def form_name(self, campaign: Campaign) -> str:
        # named when the form was built, from the campaign's first name: renames do not follow
        return f"{campaign.name} - landing page form"

    def _submissions(self, guid: str) -> list[Touch] | None:
        """The form's submissions at the clock, newest first (HubSpot's order); None for an
        unknown form."""
        by_guid = {g: c for g, c in self._forms()}
        if guid not in by_guid:
            return None
        cid = by_guid[guid].campaign_id
        key = ("submissions", guid, self.as_of)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is None:
            # newest first: (at, touch id) descending (touch ids are unique)
            cached = [t for t in reversed(self._campaign_touches(cid)) if t.at <= self.as_of]
            with self._cache_lock:
                self._cache[key] = cached  # type: ignore[assignment]
        return cached  # type: ignore[return-value]

    def _campaign_touches(self, campaign_id: str) -> list[Touch]:
        """A campaign's touches, ascending (at, touch id); the index is built once per touches
        list: each form's first page at a clock looked through every touch of the world (every
        form's at scale 0.1 of the large bench: 0.41 s a clock, now 0.28 s with the index)."""
        touches = self.world.touches

        def build() -> dict[str, list[Touch]]:
            index: dict[str, list[Touch]] = {}
            for t in sorted(touches, key=lambda t: (t.at, t.touch_id)):
                index.setdefault(t.campaign.campaign_id, []).append(t)
            return index

        index = self._built_once(("touch_index",), (id(touches), len(touches)), build)
        return index.get(campaign_id, [])

    def submission_body(self, t: Touch) -> dict[str, Any]:
        """One submission as ``form-integrations/v1`` returns it: ``submittedAt`` epoch ms,
        ``values`` the fields the form captured (the email, the name, the hidden
        ``utm_campaign`` field filled from the landing page's URL), ``pageUrl``."""
        c = self.world.contact_by_id[t.contact_id]
        camp = t.campaign
        page = (f"{SITE}/lp/{_slug(camp.name)}?utm_source={camp.platform}&utm_medium=paid"
                f"&utm_campaign={quote_plus(t.utm_campaign)}")
        return {
            "conversionId": conversion_id(t),
            "submittedAt": epoch_ms(t.at),
            "values": [
                {"name": "email", "value": c.email, "objectTypeId": "0-1"},
                {"name": "firstname", "value": c.first_name, "objectTypeId": "0-1"},
                {"name": "lastname", "value": c.last_name, "objectTypeId": "0-1"},
                {"name": self.utm_campaign_property, "value": t.utm_campaign,
                 "objectTypeId": "0-1"},
            ],
            "pageUrl": page,
        }

    def expected_submissions(self) -> set[tuple]:
        return {(conversion_id(t),) for t in self.world.touches if t.at <= self.as_of}

    def forms(self, request: Request) -> Response:
        """``GET /marketing/v3/forms?limit=&after=``: the portal's forms (``after`` opaque)."""
        try:
            limit, after = _page_args(request, 20, MAX_FORMS_LIMIT)
        except SearchError as exc:
            return self._bad_request(str(exc))
        stamp = hs_datetime(datetime.combine(self.world.start, datetime.min.time(), UTC)
                            - timedelta(days=30))
        forms = self._forms()
        results = [
            {
                "id": guid,
                "name": self.form_name(camp),
                "formType": "hubspot",
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
                "fieldGroups": [
                    {"groupType": "default_group", "richTextType": "text", "fields": [
                        {"objectTypeId": "0-1", "name": "email", "label": "Email",
                         "required": True, "hidden": False, "fieldType": "email"},
                        {"objectTypeId": "0-1", "name": self.utm_campaign_property,
                         "label": "utm_campaign", "required": False, "hidden": True,
                         "fieldType": "single_line_text"},
                    ]},
                ],
            }
            for guid, camp in forms[after : after + limit]
        ]
        body: dict[str, Any] = {"results": results}
        if after + limit < len(forms):
            nxt = str(after + limit)
            body["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
        return json_response(body)

    def submissions(self, request: Request, form_guid: str) -> Response:
        """``GET /form-integrations/v1/submissions/forms/{guid}?limit=&after=``: newest first,
        at most 50 a page, no time filter (so a sync stops paging once it reaches what it read
        last time)."""
        subs = self._submissions(form_guid)
        if subs is None:
            return json_response(error_body(f"Form {form_guid} not found", "OBJECT_NOT_FOUND"),
                                 404)
        try:
            limit, after = _page_args(request, SUBMISSIONS_DEFAULT_LIMIT, MAX_SUBMISSIONS_LIMIT)
        except SearchError as exc:
            return self._bad_request(str(exc))
        body: dict[str, Any] = {
            "results": [self.submission_body(t) for t in subs[after : after + limit]]
        }
        if after + limit < len(subs):
            nxt = str(after + limit)
            body["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
        return json_response(body)

    def pipelines(self, request: Request, object_type: str) -> Response:
        """``GET /crm/v3/pipelines/deals``: the pipelines and their stage metadata (strings)."""
        if object_type != "deals":
            return json_response({"results": []})
        stamp = hs_datetime(datetime.combine(self.world.start, datetime.min.time(), UTC)
                            - timedelta(days=400))
        return json_response({"results": [
            _pipeline(pid, label, order, stages, stamp)
            for order, (pid, label, stages) in enumerate(_PIPELINES)
        ]})


# --------------------------------------------------------------------------- forms
#: the marketing site the landing pages live on
SITE = "https://www.acme-revops.example"
MAX_FORMS_LIMIT = 500
#: ``GET /form-integrations/v1/submissions/forms/{guid}``: default and maximum page
SUBMISSIONS_DEFAULT_LIMIT = 20
MAX_SUBMISSIONS_LIMIT = 50
_FORM_NS = uuid.UUID("3f1c9a52-7d0e-4b8a-9c61-2f5d8e0a4b17")


def form_guid(campaign: Campaign) -> str:
    """The landing-page form of a campaign (one form per campaign): a stable GUID."""
    return _form_guid(campaign.platform, campaign.campaign_id)


@functools.cache  # one per campaign, and every submissions page looks up every form
def _form_guid(platform: str, campaign_id: str) -> str:
    return str(uuid.uuid5(_FORM_NS, f"form:{platform}:{campaign_id}"))


def conversion_id(touch: Touch) -> str:
    """HubSpot's ``conversionId`` of one submission (a UUID), stable per touch."""
    return str(uuid.uuid5(_FORM_NS, f"conversion:{touch.touch_id}"))


def company_id(c: Contact) -> str:
    """The HubSpot id of the company ``c``'s first deal created."""
    return str(COMPANY_ID_BASE + c.contact_id)


def company_name(c: Contact) -> str:
    return f"{c.last_name} Ltda {c.contact_id}"


def company_domain(c: Contact) -> str:
    """``<last name, ASCII-folded, lower case><world contact id>.example.com.br``."""
    folded = unicodedata.normalize("NFKD", c.last_name).encode("ascii", "ignore").decode()
    return f"{re.sub(r'[^a-z0-9]', '', folded.lower())}{c.contact_id}.{COMPANY_DOMAIN}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _pipeline(
    pipeline_id: str, label: str, order: int, stage_rows: tuple, stamp: str | None
) -> dict[str, Any]:
    stages = [
        {
            "id": sid,
            "label": stage_label,
            "displayOrder": i,
            "metadata": {"isClosed": "true" if closed else "false", "probability": prob},
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "writePermissions": "CRUD_ALL",
        }
        for i, (sid, stage_label, prob, closed) in enumerate(stage_rows)
    ]
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": order,
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
        "stages": stages,
    }


def _page_args(request: Request, default_limit: int, max_limit: int) -> tuple[int, int]:
    """``(limit, after)`` of a list endpoint's query; SearchError (a 400) when out of range."""
    limit = _int(request.args.get("limit", default_limit), "limit")
    after = _int(request.args.get("after", 0) or 0, "after")
    if not 0 < limit <= max_limit or after < 0:
        raise SearchError(f"limit must be between 1 and {max_limit}")
    return limit, after


def _page(items: list, after: int, limit: int, fault: str | None) -> tuple[list, str | None]:
    """One page of ``items`` from offset ``after`` and the next cursor (None on the last page),
    as the paging faults shape it: ``short_page`` half the limit, ``empty_page`` no rows and a
    cursor to the same offset (spelled ``<offset>.e``: opaque to the client, so it is no repeat),
    ``repeat_cursor`` the rows and the request's own cursor."""
    if fault == "short_page":
        limit = max(1, limit // 2)
    if fault == "empty_page":
        return [], f"{after}.e"
    page = items[after : after + limit]
    if fault == "repeat_cursor":
        return page, str(after)
    return page, (str(after + limit) if after + limit < len(items) else None)


def _int(value: Any, name: str) -> int:
    if name == "after" and str(value).endswith(".e"):  # the cursor of an ``empty_page``
        value = str(value)[:-2]
    try:
        return int(str(value))
    except ValueError as exc:
        raise SearchError(f"{name} must be an integer, got {value!r}") from exc


def _sort(records: list[dict[str, Any]], sorts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One sort is allowed (HubSpot's rule); ties and the default order are ascending id."""
    if len(sorts) > 1:
        raise SearchError("only one sort is supported")
    records = sorted(records, key=lambda r: int(r["id"]))
    if not sorts:
        return records
    spec = sorts[0]
    prop = spec.get("propertyName")
    if not prop:
        raise SearchError("a sort needs propertyName")
    descending = str(spec.get("direction", "ASCENDING")).upper() == "DESCENDING"
    present = [r for r in records if _comparable(prop, r["props"].get(prop)) is not None]
    missing = [r for r in records if _comparable(prop, r["props"].get(prop)) is None]
    present.sort(key=lambda r: _comparable(prop, r["props"].get(prop)), reverse=descending)
    return present + missing


def _render(record: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    """One search result; unknown requested properties are left out, as HubSpot does."""
    props = record["props"]
    return {
        "id": record["id"],
        "properties": {p: props[p] for p in wanted if p in props},
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "archived": False,
    }


def _lead_status(rejected_at: datetime | None, touched_at: datetime | None,
                 mql_at: datetime | None) -> str:
    """hs_lead_status from what has happened (None = not yet)."""
    if rejected_at is not None:
        return "UNQUALIFIED"
    if touched_at is not None:
        return "IN_PROGRESS"
    if mql_at is not None:
        return "OPEN"
    return "NEW"
