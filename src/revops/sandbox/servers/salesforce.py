"""A fake Salesforce org (login server + REST API) serving the synthetic company in Salesforce's
wire format, as of ``self.as_of``.

How the world shows (the integrator relies on this; README.md says the same):

* owners -> ``User`` (``005`` + the owner id zero-padded to 18 chars), ``Department`` = team;
* every world contact -> a ``Lead`` (``00Q`` + contact id) created at ``created_at``; its
  ``Status`` walks the org's picklist ``Subscriber`` -> ``Open - Not Contacted`` (lead stage) ->
  ``Marketing Qualified`` (mql) -> ``Disqualified`` (+ the custom rejection-reason field) or
  ``Closed - Converted`` at ``sql_at`` (``IsConverted``, ``ConvertedDate`` = the org-local date,
  ``ConvertedContactId`` = a new ``Contact`` ``003`` + contact id created at ``sql_at``,
  ``ConvertedAccountId`` ``001`` + contact id, ``ConvertedOpportunityId`` null);
* every status change is a ``LeadHistory`` row (``Field='Status'``), plus ``created``,
  ``leadConverted`` and, on a merge survivor, ``leadMerged`` rows;
* deals -> ``Opportunity`` (``006`` + deal id), stages ``Qualification`` ->
  ``Proposal/Price Quote`` (after 7 days) -> ``Closed Won`` / ``Closed Lost``; each stage is an
  ``OpportunityHistory`` row; ``OpportunityContactRole`` (primary) links the converted Contact;
* ``first_sales_touch_at`` -> a ``Task`` (``00T`` + contact id), Call or Email, completed at the
  touch; ``ActivityDate`` is a *date* (org-local), not the time. Salesforce moves a lead's
  activities to the new Contact on conversion, so ``WhoId`` becomes the Contact at ``sql_at``;
* a merged duplicate's Lead (and its converted Contact) is deleted at ``merged_at``:
  ``IsDeleted=true``, ``MasterRecordId`` = the survivor; gone from ``/query``, kept by
  ``/queryAll``;
* a deleted contact (``deleted_at``) deletes its Lead, Contact and Task (its LeadHistory stays
  unflagged, as a merged-away lead's: history has no SystemModstamp to re-read it by), a deleted
  deal its Opportunity, OpportunityHistory and OpportunityContactRole: ``IsDeleted=true``, no
  ``MasterRecordId``, ``SystemModstamp`` = the deletion;
* campaigns -> ``Campaign`` (``701``), touches -> responded ``CampaignMember`` (``00v`` + touch
  id, created at the touch), on the Lead, gaining ``ContactId`` at conversion (on the Contact
  only when made after it), re-parented to the master at a merge; a deleted person's members
  are hard-deleted (CampaignMember has no recycle bin); a response marketing removed
  (``world.removed_touches``) is hard-deleted too and listed by the delete log,
  ``GET /sobjects/CampaignMember/deleted/?start=&end=``.

Every datetime is UTC with milliseconds (``2026-10-03T14:22:05.000+0000``), dates are org-local
(``ORG_TIME_ZONE``), numbers and booleans are JSON-typed, every selected field is present.
``SystemModstamp`` is the record's last change visible at the clock.

The SOQL understood is the subset the connector sends::

    SELECT f1, f2 FROM Obj [WHERE <datetime field> (>=|>|<|<=|=) <literal> [AND ...]]
    [ORDER BY f1 [ASC], f2 [ASC]] [LIMIT n]

anything else is answered 400 ``MALFORMED_QUERY`` / ``INVALID_FIELD`` / ``INVALID_TYPE`` the
way Salesforce words them. This module must not import the connector.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from revops.sandbox.server import LoggedRequest, SandboxApp, json_response
from revops.sandbox.world import Campaign, Contact, Deal, Touch, World

TOKEN_PATH = "/services/oauth2/token"
#: the org's default time zone: Salesforce's date-only fields (ConvertedDate, CloseDate,
#: ActivityDate) are days in it
ORG_TIME_ZONE = "America/Los_Angeles"
ORG_ID = "00D000000000001EAA"
SANDBOX_CLIENT_ID = "3MVG9sandbox-connected-app"
SANDBOX_CLIENT_SECRET = "sandbox-consumer-secret"
API_LIMIT = 15_000
MIN_BATCH, MAX_BATCH = 200, 2000
#: where leads nobody owns sit (a queue, as in a real org: OwnerId is never null)
UNASSIGNED_QUEUE_ID = "00G" + "1".zfill(15)
#: the integration user (the API user of the token response): owns what a calendar sync logs
#: without an owner (an Event cannot be owned by a queue)
INTEGRATION_USER_ID = "005" + "1".zfill(15)
SUPPORTED_VERSIONS = ("64.0", "65.0", "66.0", "67.0")

STATUS_SUBSCRIBER = "Subscriber"
STATUS_OPEN = "Open - Not Contacted"
STATUS_MQL = "Marketing Qualified"
STATUS_DISQUALIFIED = "Disqualified"
STATUS_CONVERTED = "Closed - Converted"
#: Opportunity stage -> (probability, forecast category, is closed, is won)
OPP_STAGES = {
    "Qualification": (10, "Pipeline", False, False),
    "Proposal/Price Quote": (75, "Pipeline", False, False),
    "Closed Won": (100, "Closed", True, True),
    "Closed Lost": (0, "Omitted", True, False),
}
#: Campaign Type (the standard picklist) per world campaign objective / offline kind
CAMPAIGN_TYPES = {"events": "Conference", "sponsorship": "Partners", "print": "Advertisement"}
#: CampaignMemberStatus per campaign kind: (not responded, responded)
MEMBER_STATUSES = {"events": ("Registered", "Attended")}
#: member numbers of the not-responded ("Sent") members: base + contact id (touch ids are
#: 70_000_000_000 + contact id * 100 + slot, so the ranges never meet)
TOUCH_SENT_BASE = 90_000_000_000
#: days after creation an open opportunity is expected to close (its CloseDate until it closes)
EXPECTED_CLOSE_DAYS = 30
STAGE_MOVE = timedelta(days=7)

_DATETIME_FIELDS = {"CreatedDate", "LastModifiedDate", "SystemModstamp", "CompletedDateTime",
                    "ActivityDateTime", "StartDateTime", "EndDateTime"}
#: the datetime literal formats SOQL accepts (no fractional seconds)
_SOQL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


class SoqlError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- wire values
def sf_id(prefix: str, number: int | str) -> str:
    """An 18-character id: the key prefix, then the number zero-padded."""
    return prefix + str(number).zfill(15)


def ms(dt: datetime) -> datetime:
    """Salesforce keeps milliseconds."""
    return dt.astimezone(UTC).replace(microsecond=dt.microsecond // 1000 * 1000)


def sf_datetime(dt: datetime | None) -> str | None:
    """``2026-10-03T14:22:05.000+0000``."""
    if dt is None:
        return None
    dt = ms(dt)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def parse_sf_datetime(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def org_date(dt: datetime | None) -> str | None:
    """A date-only field: the day in the org's time zone."""
    if dt is None:
        return None
    return dt.astimezone(ZoneInfo(ORG_TIME_ZONE)).date().isoformat()


def errors(message: str, code: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code, **extra}]


def _vis(t: datetime | None, cutoff: datetime) -> datetime | None:
    return t if t is not None and t <= cutoff else None


# --------------------------------------------------------------------------- objects
#: every object's fields, in describe order (SOQL is case-insensitive; these are canonical)
FIELDS: dict[str, tuple[str, ...]] = {
    "User": ("Id", "Username", "Name", "FirstName", "LastName", "Email", "IsActive",
             "Department", "UserType", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
    "Lead": ("Id", "IsDeleted", "MasterRecordId", "FirstName", "LastName", "Name", "Company",
             "Email", "LeadSource", "Status", "OwnerId", "IsConverted", "ConvertedDate",
             "ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId",
             "CreatedDate", "LastModifiedDate", "SystemModstamp"),
    "LeadHistory": ("Id", "IsDeleted", "LeadId", "CreatedById", "CreatedDate", "Field",
                    "DataType", "OldValue", "NewValue"),
    "Contact": ("Id", "IsDeleted", "MasterRecordId", "AccountId", "FirstName", "LastName",
                "Name", "Email", "LeadSource", "OwnerId", "CreatedDate", "LastModifiedDate",
                "SystemModstamp"),
    "Opportunity": ("Id", "IsDeleted", "AccountId", "Name", "StageName", "Amount",
                    "Probability", "CloseDate", "Type", "LeadSource", "IsClosed", "IsWon",
                    "ForecastCategory", "ForecastCategoryName", "OwnerId", "CreatedDate",
                    "LastModifiedDate", "SystemModstamp"),
    "OpportunityHistory": ("Id", "IsDeleted", "OpportunityId", "CreatedById", "CreatedDate",
                           "StageName", "Amount", "ExpectedRevenue", "CloseDate", "Probability",
                           "ForecastCategory", "SystemModstamp"),
    "OpportunityContactRole": ("Id", "IsDeleted", "OpportunityId", "ContactId", "Role",
                               "IsPrimary", "CreatedDate", "LastModifiedDate",
                               "SystemModstamp"),
    "Account": ("Id", "IsDeleted", "MasterRecordId", "Name", "Type", "OwnerId", "CreatedDate",
                "LastModifiedDate", "SystemModstamp"),
    "Event": ("Id", "IsDeleted", "WhoId", "WhatId", "Subject", "ActivityDateTime",
              "ActivityDate", "StartDateTime", "EndDateTime", "DurationInMinutes", "EventSubtype",
              "Type", "OwnerId", "IsArchived", "CreatedDate", "LastModifiedDate",
              "SystemModstamp"),
    "Campaign": ("Id", "IsDeleted", "Name", "ParentId", "Type", "Status", "StartDate", "EndDate",
                 "IsActive", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
    "CampaignMember": ("Id", "IsDeleted", "CampaignId", "LeadId", "ContactId", "Status",
                       "HasResponded", "FirstRespondedDate", "CreatedDate", "LastModifiedDate",
                       "SystemModstamp"),
    "Task": ("Id", "IsDeleted", "WhoId", "WhatId", "Subject", "ActivityDate", "Status",
             "Priority", "OwnerId", "IsClosed", "IsArchived", "TaskSubtype", "Type",
             "CompletedDateTime", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
}


class SalesforceSandbox(SandboxApp):
    platform = "salesforce"

    def __init__(
        self,
        world: World,
        *,
        token: str,
        as_of: datetime | None = None,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
        utm_campaign_field: str = "UTM_Campaign__c",
        campaign_utm_field: str = "UTM_Campaign__c",
        rejection_reason_field: str = "Disqualification_Reason__c",
        min_batch_size: int = MIN_BATCH,
        status_labels: dict[str, str] | None = None,
    ):
        #: ``token`` is the refresh token; access tokens are minted by the token endpoint
        self.client_id = client_id
        self.client_secret = client_secret
        self.utm_campaign_field = utm_campaign_field
        self.campaign_utm_field = campaign_utm_field
        self.rejection_reason_field = rejection_reason_field
        #: Salesforce ignores batch sizes under 200; tests of tiny worlds may lower this
        self.min_batch_size = min_batch_size
        #: the org's own Lead Status picklist labels for the statuses above (an org that renamed
        #: or added a value): ``{"Marketing Qualified": "MQL - Nurture"}`` serves that label on
        #: ``Lead.Status`` and in ``LeadHistory`` (a mapping the warehouse lacks must fail its build)
        self.status_labels: dict[str, str] = dict(status_labels or {})
        self.api_usage = 0
        self._access_tokens: set[str] = set()
        self._cursors: dict[str, tuple[str, list[dict[str, Any]], int]] = {}
        self._lock = threading.Lock()
        super().__init__(world.crm_view("salesforce"), token=token, as_of=as_of)

    # --- routing ----------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule(TOKEN_PATH, endpoint="oauth_token", methods=["POST"]),
            Rule("/services/data/", endpoint="versions", methods=["GET"]),
            Rule("/services/data/v<version>/query", endpoint="query", methods=["GET"]),
            Rule("/services/data/v<version>/query/", endpoint="query", methods=["GET"]),
            Rule("/services/data/v<version>/queryAll", endpoint="query_all", methods=["GET"]),
            Rule("/services/data/v<version>/queryAll/", endpoint="query_all", methods=["GET"]),
            Rule("/services/data/v<version>/query/<locator>", endpoint="query_more",
                 methods=["GET"]),
            Rule("/services/data/v<version>/queryAll/<locator>", endpoint="query_more",
                 methods=["GET"]),
            Rule("/services/data/v<version>/sobjects/<sobject>/deleted/", endpoint="get_deleted",
                 methods=["GET"]),
        ]

    def dispatch(self, request: Request) -> Response:
        """The login server is another host in production: the REST faults do not hit it and
        it does not count against the API limit. Every REST response carries
        ``Sforce-Limit-Info``."""
        if request.path == TOKEN_PATH:
            with self._log_lock:
                self.log.append(LoggedRequest(request.method, request.path, dict(request.args),
                                              None, dict(request.headers)))
            return self.oauth_token(request)
        with self._lock:
            self.api_usage += 1
            usage = self.api_usage
        response = super().dispatch(request)
        response.headers["Sforce-Limit-Info"] = f"api-usage={usage}/{API_LIMIT}"
        return response

    # --- auth -------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self._access_tokens

    def unauthorized_response(self, request: Request) -> Response:
        return json_response(errors("Session expired or invalid", "INVALID_SESSION_ID"), 401)

    def oauth_token(self, request: Request) -> Response:
        """``POST /services/oauth2/token`` (refresh-token grant, form encoded)."""
        form = request.form
        if form.get("grant_type") != "refresh_token":
            return json_response({"error": "unsupported_grant_type",
                                  "error_description": "grant type not supported"}, 400)
        if form.get("client_id") != self.client_id:
            return json_response({"error": "invalid_client_id",
                                  "error_description": "client identifier invalid"}, 400)
        if form.get("client_secret") != self.client_secret:
            return json_response({"error": "invalid_client",
                                  "error_description": "invalid client credentials"}, 400)
        if form.get("refresh_token") != self.token:
            return json_response({"error": "invalid_grant",
                                  "error_description": "expired access/refresh token"}, 400)
        access = f"{ORG_ID[:15]}!{secrets.token_urlsafe(40)}"
        with self._lock:
            self._access_tokens.add(access)
        issued = int(datetime.now(UTC).timestamp() * 1000)
        return json_response({
            "access_token": access,
            "signature": secrets.token_urlsafe(32),
            "scope": "refresh_token api",
            "instance_url": request.host_url.rstrip("/"),
            "id": f"{request.host_url}id/{ORG_ID}/{sf_id('005', 1)}",
            "token_type": "Bearer",
            "issued_at": str(issued),
        })

    def revoke_access_tokens(self) -> None:
        """The session timed out: every access token dies, the refresh token lives on."""
        with self._lock:
            self._access_tokens.clear()

    # --- faults ------------------------------------------------------------------------
    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "rate_limit":
            # too many long-running requests at once: clears as soon as they finish
            return json_response(
                errors("ConcurrentPerOrgLongTxn Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"), 403)
        if kind == "request_limit":
            return json_response(
                errors("TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"), 403)
        if kind == "server_error":
            return json_response(errors(
                "An unexpected error occurred. Please include this ErrorId if you contact "
                "support: 1791473651-54930 (-1476457367)", "UNKNOWN_EXCEPTION"), 500)
        if kind == "unavailable":
            return Response("<html><body>Service Unavailable</body></html>", 503,
                            mimetype="text/html")
        if kind == "expired_token":
            self.revoke_access_tokens()
            return self.unauthorized_response(request)
        if kind == "session_not_for_rest":
            return json_response(errors("This session is not valid for use with the REST API",
                                        "INVALID_SESSION_ID"), 401)
        if kind == "invalid_query_locator":
            return json_response(errors("invalid query locator", "INVALID_QUERY_LOCATOR"), 400)
        raise NotImplementedError(kind)

    def not_found_response(self, request: Request) -> Response:
        return json_response(errors("The requested resource does not exist", "NOT_FOUND"), 404)

    # --- endpoints ---------------------------------------------------------------------
    def versions(self, request: Request) -> Response:
        return json_response([
            {"label": label, "url": f"/services/data/v{v}", "version": v}
            for v, label in zip(SUPPORTED_VERSIONS,
                                ("Summer '25", "Winter '26", "Spring '26", "Summer '26"),
                                strict=True)
        ])

    def query(self, request: Request, version: str) -> Response:
        return self._query(request, version, include_deleted=False)

    def query_all(self, request: Request, version: str) -> Response:
        return self._query(request, version, include_deleted=True)

    def _query(self, request: Request, version: str, include_deleted: bool) -> Response:
        if version not in SUPPORTED_VERSIONS:
            return self.not_found_response(request)
        soql = request.args.get("q")
        if not soql:
            return json_response(errors("A query string has to be specified",
                                        "MALFORMED_QUERY"), 400)
        try:
            obj, fields, records = self.run_soql(soql, include_deleted)
        except SoqlError as exc:
            return json_response(errors(exc.message, exc.code), 400)
        rendered = [self._render(obj, fields, r, version) for r in records]
        batch = _batch_size(request.headers.get("Sforce-Query-Options"))
        batch = max(self.min_batch_size, min(MAX_BATCH, batch))
        endpoint = "queryAll" if include_deleted else "query"
        locator = "01g" + secrets.token_hex(6).upper()
        with self._lock:
            self._cursors[locator] = (endpoint, rendered, batch)
        return json_response(self._page(version, locator, 0, request.environ.get("sandbox.fault")))

    def get_deleted(self, request: Request, version: str, sobject: str) -> Response:
        """``GET /sobjects/{sObject}/deleted/?start=&end=`` (sObject Get Deleted): the records
        of the delete log deleted in [start, end], ``{"deletedRecords": [{"id", "deletedDate"}],
        "earliestDateAvailable", "latestDateCovered"}``. Seconds of start and end are ignored
        (minutes, as Salesforce does); the log holds 15 days before the clock, and the end is
        covered up to the clock. Served for CampaignMember: the members marketing removed from
        live people (``world.removed_touches``), which leave no ``IsDeleted`` row."""
        if version not in SUPPORTED_VERSIONS:
            return self.not_found_response(request)
        try:
            obj = _canonical_object(sobject)
            start, end = (datetime.fromisoformat(request.args[k]).astimezone(UTC)
                          .replace(second=0, microsecond=0) for k in ("start", "end"))
        except SoqlError as exc:
            return json_response(errors(exc.message, "NOT_FOUND"), 404)
        except (KeyError, ValueError):
            return json_response(errors("start and end must be dateTimes", "INVALID_REPLICATION_DATE"), 400)
        earliest = (self.as_of - timedelta(days=15)).replace(second=0, microsecond=0)
        if start < earliest or end <= start:
            return json_response(errors(f"start must be after {sf_datetime(earliest)} and before end",
                                        "INVALID_REPLICATION_DATE"), 400)
        covered = min(end, self.as_of.replace(second=0, microsecond=0))
        found = []
        if obj == "CampaignMember":
            for touch_id, at in sorted(self.world.removed_touches.items(), key=lambda kv: kv[1]):
                if start <= at <= covered:
                    found.append({"id": sf_id("00v", touch_id), "deletedDate": sf_datetime(at)})
        return json_response({"deletedRecords": found, "earliestDateAvailable": sf_datetime(earliest),
                              "latestDateCovered": sf_datetime(covered)})

    def query_more(self, request: Request, version: str, locator: str) -> Response:
        name, _, offset = locator.rpartition("-")
        offset = offset.removesuffix("e")  # the locator of an ``empty_page``
        with self._lock:
            known = name in self._cursors
        if not known or not offset.isdigit():
            return json_response(errors("invalid query locator", "INVALID_QUERY_LOCATOR"), 400)
        return json_response(self._page(version, name, int(offset), request.environ.get("sandbox.fault")))

    def _page(self, version: str, locator: str, offset: int, fault: str | None = None) -> dict[str, Any]:
        """One ``query``/``queryMore`` answer from ``offset``, as the paging faults shape it:
        ``short_page`` half the batch size (Salesforce treats it as a hint), ``empty_page`` no
        records, not done, a ``nextRecordsUrl`` to the same offset (spelled ``<offset>e``: the
        locator is opaque, so it is no repeat), ``repeat_cursor`` the records and a
        ``nextRecordsUrl`` to the offset just read."""
        with self._lock:
            endpoint, rendered, batch = self._cursors[locator]
        url = f"/services/data/v{version}/{endpoint}/{locator}-"
        if fault == "short_page":
            batch = max(1, batch // 2)
        if fault == "empty_page" and offset < len(rendered):
            return {"totalSize": len(rendered), "done": False, "nextRecordsUrl": f"{url}{offset}e",
                    "records": []}
        page = rendered[offset: offset + batch]
        end = offset + len(page)
        body: dict[str, Any] = {"totalSize": len(rendered), "done": end >= len(rendered)}
        if fault == "repeat_cursor" and page:
            body["done"] = False
            body["nextRecordsUrl"] = f"{url}{offset}"
        elif not body["done"]:
            body["nextRecordsUrl"] = f"{url}{end}"
        body["records"] = page
        return body

    def _render(self, obj: str, fields: list[str], record: dict[str, Any],
                version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": obj,
                           "url": f"/services/data/v{version}/sobjects/{obj}/{record['Id']}"}
        }
        for f in fields:
            out[f] = record.get(f)
        return out

    # --- SOQL ----------------------------------------------------------------------------
    def run_soql(self, soql: str, include_deleted: bool
                 ) -> tuple[str, list[str], list[dict[str, Any]]]:
        m = re.match(
            r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
            r"(?:\s+WHERE\s+(?P<where>.+?))?"
            r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
            r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
            soql, re.IGNORECASE | re.DOTALL,
        )
        if not m:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token in query: {soql[:80]}")
        obj = _canonical_object(m["obj"])
        known = {f.lower(): f for f in FIELDS[obj] + self._custom_fields(obj)}
        fields = [self._field(obj, known, f.strip()) for f in m["fields"].split(",")]
        records = [r for r in self._records(obj) if include_deleted or not r.get("IsDeleted")]
        if m["where"]:
            for cond in re.split(r"\s+AND\s+", m["where"].strip(), flags=re.IGNORECASE):
                records = self._filter(obj, known, cond, records)
        if m["order"]:
            keys = []
            for part in m["order"].split(","):
                words = part.split()
                if not words or len(words) > 2 or (len(words) == 2
                                                   and words[1].upper() != "ASC"):
                    raise SoqlError("MALFORMED_QUERY",
                                    f"unexpected token: '{part.strip()}' (the sandbox sorts "
                                    "ascending only)")
                keys.append(self._field(obj, known, words[0]))
            records = sorted(records, key=lambda r: tuple(_sort_key(r.get(k)) for k in keys))
        if m["limit"]:
            records = records[: int(m["limit"])]
        return obj, fields, records

    def _custom_fields(self, obj: str) -> tuple[str, ...]:
        if obj == "Lead":
            return (self.utm_campaign_field, self.rejection_reason_field)
        if obj == "Campaign":
            return (self.campaign_utm_field,)
        return ()

    def _field(self, obj: str, known: dict[str, str], name: str) -> str:
        if name.lower() in known:
            return known[name.lower()]
        if not re.fullmatch(r"\w+", name):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{name}'")
        raise SoqlError(
            "INVALID_FIELD",
            f"\n{name}\n^\nERROR at Row:1:Column:8\nNo such column '{name}' on entity '{obj}'. "
            "If you are attempting to use a custom field, be sure to append the '__c' after "
            "the custom field name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )

    def _filter(self, obj: str, known: dict[str, str], cond: str,
                records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        m = re.fullmatch(r"\s*(\w+)\s*(>=|<=|>|<|=)\s*(\S+)\s*", cond)
        if not m:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{cond.strip()}'")
        field = self._field(obj, known, m[1])
        literal = m[3]
        if field not in _DATETIME_FIELDS:
            raise SoqlError("MALFORMED_QUERY",
                            f"the sandbox filters datetime fields only, not {field}")
        if not _SOQL_DATETIME.match(literal):
            raise SoqlError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{field}' must be of type dateTime and "
                "should not be enclosed in quotes",
            )
        bound = datetime.fromisoformat(literal.replace("Z", "+00:00")).astimezone(UTC)
        ops = {">=": lambda a: a >= bound, ">": lambda a: a > bound, "<": lambda a: a < bound,
               "<=": lambda a: a <= bound, "=": lambda a: a == bound}
        test = ops[m[2]]
        return [r for r in records
                if r.get(field) is not None and test(parse_sf_datetime(r[field]))]

    # --- the world as Salesforce records ---------------------------------------------------
    def _records(self, obj: str) -> list[dict[str, Any]]:
        switches = (self.as_of, self.utm_campaign_field, self.campaign_utm_field,
                    self.rejection_reason_field, tuple(sorted(self.status_labels.items())))
        return self._built_once((obj,), switches, lambda: sorted(
            getattr(self, f"_build_{obj.lower()}")(), key=lambda r: r["Id"]))

    def label(self, status: str | None) -> str | None:
        """The org's picklist label of a status (``status_labels``; the standard one else)."""
        return self.status_labels.get(status, status) if status is not None else None

    def user_id(self, owner_id: str | None) -> str:
        return sf_id("005", owner_id) if owner_id else UNASSIGNED_QUEUE_ID

    def _people(self) -> list[Contact]:
        """Every world contact that exists at the clock, merged-away duplicates included."""
        return [c for c in self.world.contacts if c.created_at <= self.as_of]

    def _gone_at(self, c: Contact) -> datetime | None:
        """When the person's records went to the recycle bin (merged away or deleted), if by
        the clock."""
        gone = [t for t in (c.merged_at, c.deleted_at) if t is not None and t <= self.as_of]
        return min(gone) if gone else None

    def _cutoff(self, c: Contact) -> datetime:
        """A merged or deleted record stops changing when it is deleted."""
        return self._gone_at(c) or self.as_of

    def status_changes(self, c: Contact) -> list[tuple[datetime, str]]:
        """``(when, new Status)`` from creation, ascending, as visible at the clock."""
        cut = self._cutoff(c)
        changes = [(c.created_at, STATUS_SUBSCRIBER if c.subscriber_at else STATUS_OPEN)]
        lead_at = _vis(c.stage_at.get("lead"), cut)
        if c.subscriber_at and lead_at is not None:
            changes.append((lead_at, STATUS_OPEN))
        for when, status in ((c.stage_at.get("mql"), STATUS_MQL),
                             (c.rejected_at, STATUS_DISQUALIFIED),
                             (c.stage_at.get("sql"), STATUS_CONVERTED)):
            if _vis(when, cut) is not None:
                changes.append((when, status))  # type: ignore[arg-type]
        return sorted(changes, key=lambda x: x[0])

    def _absorbed_at(self, c: Contact) -> list[tuple[datetime, Contact]]:
        out = []
        for loser_id in c.absorbed:
            loser = self.world.contact_by_id[loser_id]
            if loser.merged_at is not None and loser.merged_at <= self.as_of:
                out.append((loser.merged_at, loser))
        return out

    def _deleted(self, c: Contact) -> bool:
        """In the recycle bin: merged away (``MasterRecordId`` set) or deleted."""
        return self._gone_at(c) is not None

    def _merged(self, c: Contact) -> bool:
        return c.merged_at is not None and c.merged_at <= self.as_of

    def _master_lead(self, c: Contact) -> str | None:
        return sf_id("00Q", c.merged_into) if self._merged(c) else None

    def _deal_gone_at(self, d: Deal) -> datetime | None:
        return d.deleted_at if d.deleted_by(self.as_of) else None

    def _opportunities(self) -> list[Deal]:
        """Every deal created by the clock, deleted ones included (``/queryAll`` shows them)."""
        return [d for d in self.world.deals if d.created_at <= self.as_of]

    def _build_user(self) -> list[dict[str, Any]]:
        stamp = sf_datetime(datetime.combine(self.world.start, datetime.min.time(), UTC)
                            - timedelta(days=400))
        return [
            {
                "Id": self.user_id(o.owner_id),
                "Username": f"{o.email}.acme",
                "Name": f"{o.first_name} {o.last_name}",
                "FirstName": o.first_name,
                "LastName": o.last_name,
                "Email": o.email,
                "IsActive": True,
                "Department": o.team,
                "UserType": "Standard",
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
            }
            for o in self.world.owners
        ]

    def _build_lead(self) -> list[dict[str, Any]]:
        out = []
        for c in self._people():
            cut = self._cutoff(c)
            changes = self.status_changes(c)
            status = changes[-1][1]
            sql_at = _vis(c.stage_at.get("sql"), cut)
            rejected = _vis(c.rejected_at, cut)
            stamps = [t for t, _ in changes] + [t for t, _ in self._absorbed_at(c)]
            if self._deleted(c):
                stamps.append(self._gone_at(c))  # type: ignore[arg-type]
            modified = sf_datetime(max(stamps))
            out.append({
                "Id": sf_id("00Q", c.contact_id),
                "IsDeleted": self._deleted(c),
                "MasterRecordId": self._master_lead(c),
                "FirstName": c.first_name,
                "LastName": c.last_name,
                "Name": f"{c.first_name} {c.last_name}",
                "Company": "[not provided]",
                "Email": c.email,
                "LeadSource": "Advertisement" if c.source_campaign else "Web",
                "Status": self.label(status),
                "OwnerId": self.user_id(c.owner_id),
                "IsConverted": sql_at is not None,
                "ConvertedDate": org_date(sql_at),
                "ConvertedAccountId": sf_id("001", c.contact_id) if sql_at else None,
                "ConvertedContactId": sf_id("003", c.contact_id) if sql_at else None,
                "ConvertedOpportunityId": None,
                "CreatedDate": sf_datetime(c.created_at),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
                self.utm_campaign_field: c.utm_campaign,
                self.rejection_reason_field: c.rejection_reason if rejected else None,
            })
        return out

    def _build_leadhistory(self) -> list[dict[str, Any]]:
        out = []
        for c in self._people():
            lead_id = sf_id("00Q", c.contact_id)
            by = self.user_id(c.owner_id) if c.owner_id else None
            rows: list[tuple[datetime, str, str | None, str | None]] = [
                (c.created_at, "created", None, None)
            ]
            changes = self.status_changes(c)
            for (_, old), (when, new) in zip(changes, changes[1:], strict=False):
                rows.append((when, "Status", old, new))
                if new == STATUS_CONVERTED:
                    rows.append((when, "leadConverted", None, None))
            rows += [(when, "leadMerged", None, None) for when, _ in self._absorbed_at(c)]
            # a deleted (or merged-away) lead's history stays unflagged here: LeadHistory has no
            # SystemModstamp, so an incremental read on CreatedDate could never see a flag flip
            # (real orgs flag it; core keys off the Lead and never reads the flag)
            for i, (when, field, old, new) in enumerate(rows):
                out.append({
                    "Id": sf_id("017", c.contact_id * 100 + i),
                    "IsDeleted": False,
                    "LeadId": lead_id,
                    "CreatedById": by,
                    "CreatedDate": sf_datetime(when),
                    "Field": field,
                    "DataType": "Text" if field == "Status" else None,
                    "OldValue": self.label(old),
                    "NewValue": self.label(new),
                })
        return out

    def _build_contact(self) -> list[dict[str, Any]]:
        out = []
        for c in self._people():
            sql_at = _vis(c.stage_at.get("sql"), self._cutoff(c))
            if sql_at is None:
                continue
            deleted = self._deleted(c)
            master = None
            if self._merged(c):
                survivor = self.world.contact_by_id[c.merged_into]  # type: ignore[index]
                s_sql = survivor.stage_at.get("sql")
                if s_sql is not None and s_sql <= c.merged_at:  # type: ignore[operator]
                    master = sf_id("003", survivor.contact_id)
            modified = sf_datetime(self._gone_at(c) if deleted else sql_at)
            out.append({
                "Id": sf_id("003", c.contact_id),
                "IsDeleted": deleted,
                "MasterRecordId": master,
                "AccountId": sf_id("001", c.contact_id),
                "FirstName": c.first_name,
                "LastName": c.last_name,
                "Name": f"{c.first_name} {c.last_name}",
                "Email": c.email,
                "LeadSource": "Advertisement" if c.source_campaign else "Web",
                "OwnerId": self.user_id(c.owner_id),
                "CreatedDate": sf_datetime(sql_at),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            })
        return out

    def opportunity_stages(self, d: Deal) -> list[tuple[datetime, str]]:
        """``(when, StageName)`` visible at the clock (a deleted one: at its deletion),
        ascending."""
        cut = self._deal_gone_at(d) or self.as_of
        out = [(d.created_at, "Qualification")]
        move = d.created_at + STAGE_MOVE
        closed = d.is_closed_as_of(cut)
        if move <= cut and not (d.close_at is not None and d.close_at <= move):
            out.append((move, "Proposal/Price Quote"))
        if closed:
            out.append((d.close_at, "Closed Won" if d.is_won else "Closed Lost"))  # type: ignore[arg-type]
        return out

    def _close_date(self, d: Deal, at: datetime) -> str | None:
        if d.close_at is not None and d.close_at <= at:
            return org_date(d.close_at)
        return org_date(d.created_at + timedelta(days=EXPECTED_CLOSE_DAYS))

    def _build_opportunity(self) -> list[dict[str, Any]]:
        out = []
        for d in self._opportunities():
            stages = self.opportunity_stages(d)
            stage = stages[-1][1]
            prob, forecast, closed, won = OPP_STAGES[stage]
            gone = self._deal_gone_at(d)
            modified = sf_datetime(gone or stages[-1][0])
            contact = self.world.contact_by_id[d.contact_id]
            out.append({
                "Id": sf_id("006", d.deal_id),
                "IsDeleted": gone is not None,
                "AccountId": sf_id("001", d.contact_id),
                "Name": d.name,
                "StageName": stage,
                "Amount": float(d.amount),
                "Probability": float(prob),
                "CloseDate": self._close_date(d, gone or self.as_of),
                "Type": "New Business",
                "LeadSource": "Advertisement" if contact.source_campaign else "Web",
                "IsClosed": closed,
                "IsWon": won,
                "ForecastCategory": forecast,
                "ForecastCategoryName": forecast,
                "OwnerId": self.user_id(d.owner_id),
                "CreatedDate": sf_datetime(d.created_at),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            })
        return out

    def _build_opportunityhistory(self) -> list[dict[str, Any]]:
        out = []
        for d in self._opportunities():
            # deleting an opportunity deletes its history and contact roles with it
            gone = self._deal_gone_at(d)
            for i, (when, stage) in enumerate(self.opportunity_stages(d)):
                prob, forecast, _, _ = OPP_STAGES[stage]
                out.append({
                    "Id": sf_id("008", d.deal_id * 10 + i),
                    "IsDeleted": gone is not None,
                    "OpportunityId": sf_id("006", d.deal_id),
                    "CreatedById": self.user_id(d.owner_id),
                    "CreatedDate": sf_datetime(when),
                    "StageName": stage,
                    "Amount": float(d.amount),
                    "ExpectedRevenue": float(d.amount * prob / 100),
                    "CloseDate": self._close_date(d, when),
                    "Probability": float(prob),
                    "ForecastCategory": forecast,
                    "SystemModstamp": sf_datetime(gone or when),
                })
        return out

    def _build_opportunitycontactrole(self) -> list[dict[str, Any]]:
        out = []
        for d in self._opportunities():
            gone = self._deal_gone_at(d)
            modified = sf_datetime(gone or d.created_at)
            out.append({
                "Id": sf_id("00K", d.deal_id),
                "IsDeleted": gone is not None,
                "OpportunityId": sf_id("006", d.deal_id),
                "ContactId": sf_id("003", d.contact_id),
                "Role": "Decision Maker",
                "IsPrimary": True,
                "CreatedDate": sf_datetime(d.created_at),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            })
        return out

    def _build_task(self) -> list[dict[str, Any]]:
        out = []
        fallback_owner = self.world.owners[0].owner_id
        for c in self._people():
            cut = self._cutoff(c)
            touch = _vis(c.first_sales_touch_at, cut)
            if touch is None:
                continue
            sql_at = _vis(c.stage_at.get("sql"), cut)
            # conversion moves the lead's activities to the new contact
            who = sf_id("003", c.contact_id) if sql_at else sf_id("00Q", c.contact_id)
            modified = sf_datetime(max(touch, sql_at) if sql_at else touch)
            # deleting a lead or contact deletes its activities with it
            deleted = c.deleted_by(self.as_of)
            if deleted:
                modified = sf_datetime(c.deleted_at)
            subtype = "Call" if c.contact_id % 2 else "Email"
            out.append({
                "Id": sf_id("00T", c.contact_id),
                "IsDeleted": deleted,
                "WhoId": who,
                "WhatId": None,
                "Subject": "Call" if subtype == "Call" else "Email: Following up",
                "ActivityDate": org_date(touch),
                "Status": "Completed",
                "Priority": "Normal",
                "OwnerId": self.user_id(c.owner_id or fallback_owner),
                "IsClosed": True,
                "IsArchived": False,
                "TaskSubtype": subtype,
                "Type": subtype,
                "CompletedDateTime": sf_datetime(touch),
                "CreatedDate": sf_datetime(touch),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            })
        return out

    # --- accounts and events -----------------------------------------------------------------
    def _build_account(self) -> list[dict[str, Any]]:
        """Lead conversion creates the Account (``ConvertedAccountId``), named after the lead's
        Company; ``Type`` becomes ``Customer - Direct`` when a deal is won. Deleting or merging
        a contact does not delete its account (Salesforce does not cascade that way)."""
        out = []
        for c in self._people():
            sql_at = self._converted_at(c)
            if sql_at is None:
                continue
            customer = _vis(c.stage_at.get("customer"), self.as_of)
            modified = sf_datetime(customer or sql_at)
            out.append({
                "Id": sf_id("001", c.contact_id),
                "IsDeleted": False,
                "MasterRecordId": None,
                "Name": "[not provided]",
                "Type": "Customer - Direct" if customer else "Prospect",
                "OwnerId": self.user_id(c.owner_id),
                "CreatedDate": sf_datetime(sql_at),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            })
        return out

    def _build_event(self) -> list[dict[str, Any]]:
        """The world's meetings (a webinar logged by marketing, a meeting nobody owns) as Events
        on the first attendee's Lead, moved to the Contact at conversion; deleted with the
        person. ``ActivityDateTime`` = ``StartDateTime`` = the meeting, ``ActivityDate`` its
        org-local day, ``EventSubtype`` ``Event``."""
        out = []
        for a in self.world.activities:
            if a.kind != "meetings" or a.at > self.as_of:
                continue
            c = self.world.contact_by_id[a.contact_ids[0]]
            deleted = c.deleted_by(self.as_of)
            sql_at = self._converted_at(c)
            who = sf_id("003", c.contact_id) if sql_at else sf_id("00Q", c.contact_id)
            modified = max(a.at, sql_at) if sql_at else a.at
            out.append({
                "Id": sf_id("00U", a.activity_id),
                "IsDeleted": deleted,
                "WhoId": who,
                "WhatId": None,
                "Subject": "Webinar: RevOps 101" if a.owner_id else "Meeting",
                "ActivityDateTime": sf_datetime(a.at),
                "ActivityDate": org_date(a.at),
                "StartDateTime": sf_datetime(a.at),
                "EndDateTime": sf_datetime(a.at + timedelta(hours=1)),
                "DurationInMinutes": 60,
                "EventSubtype": "Event",
                "Type": "Meeting",
                "OwnerId": self.user_id(a.owner_id) if a.owner_id else INTEGRATION_USER_ID,
                "IsArchived": False,
                "CreatedDate": sf_datetime(a.at),
                "LastModifiedDate": sf_datetime(c.deleted_at if deleted else modified),
                "SystemModstamp": sf_datetime(c.deleted_at if deleted else modified),
            })
        return out

    # --- campaigns and their members (marketing touches) ---------------------------------
    def campaign_id(self, camp: Campaign) -> str:
        return sf_id("701", self.world.campaigns.index(camp) + 1)

    def campaign_utm(self, camp: Campaign) -> str | None:
        """What the org keeps in the Campaign's UTM field: the ``utm_campaign`` its ad links
        carry, which marketing ops sets to the ad platform's campaign id (stable across
        renames). Offline campaigns have no ad links: the field is empty and the Name stands
        in."""
        return None if camp.platform == "offline" else camp.campaign_id

    def _build_campaign(self) -> list[dict[str, Any]]:
        # set up by marketing ops a month before the world starts, one after another
        setup = datetime.combine(self.world.start, datetime.min.time(), UTC) - timedelta(days=30)
        out = []
        for i, camp in enumerate(self.world.campaigns):
            created = setup + timedelta(hours=i)
            renamed = [at for at, _ in camp.renames if at <= self.as_of]
            modified = sf_datetime(max([created, *renamed]))
            out.append({
                "Id": self.campaign_id(camp),
                "IsDeleted": False,
                "Name": camp.name_as_of(self.as_of),
                "ParentId": None,
                "Type": CAMPAIGN_TYPES.get(camp.objective, "Advertisement"),
                "Status": "In Progress",
                "StartDate": self.world.start.isoformat(),
                "EndDate": None,
                "IsActive": True,
                "OwnerId": self.user_id(next((o.owner_id for o in self.world.owners
                                              if o.team == "Marketing"), None)),
                "CreatedDate": sf_datetime(created),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
                self.campaign_utm_field: self.campaign_utm(camp),
            })
        return out

    def _owner_at(self, c: Contact) -> Contact:
        """Whose member a record of ``c`` is at the clock: the survivor once merged."""
        if self._merged(c):
            return self.world.contact_by_id[c.merged_into]  # type: ignore[index]
        return c

    def _converted_at(self, c: Contact) -> datetime | None:
        return _vis(c.stage_at.get("sql"), self._cutoff(c))

    def member_rows(self) -> list[tuple[Contact, Campaign, datetime, bool, int]]:
        """``(original person, campaign, created, responded, member number)`` of every member
        created by the clock and still there: a responded member per world touch, and a
        "Sent" (not responded) member for one campaign each person received and never
        answered. A deleted person's members are gone (CampaignMember is hard-deleted: no
        ``IsDeleted`` row, [airbytehq/airbyte#44845]); at a merge Salesforce keeps one member per
        campaign on the survivor: the responded one, else the earliest, the other hard-deleted."""
        rows: list[tuple[Contact, Campaign, datetime, bool, int]] = []
        campaigns = self.world.campaigns
        for c in self._people():
            if c.deleted_by(self.as_of):
                continue
            touches: list[Touch] = self.world.touches_by_contact_ids({c.contact_id})
            for t in touches:
                if t.at <= self.as_of and not self.world.touch_removed(t, self.as_of):
                    rows.append((c, t.campaign, t.at, True, t.touch_id))
            answered = {t.campaign.campaign_id for t in touches}
            sent = campaigns[c.contact_id % len(campaigns)]
            at = c.created_at + timedelta(hours=1)
            if sent.campaign_id not in answered and at <= self._cutoff(c):
                rows.append((c, sent, at, False, TOUCH_SENT_BASE + c.contact_id))
        best: dict[tuple[int, str], tuple[Contact, Campaign, datetime, bool, int]] = {}
        for row in rows:
            key = (self._owner_at(row[0]).contact_id, row[1].campaign_id)
            kept = best.get(key)
            if kept is None or (not kept[3], kept[2]) > (not row[3], row[2]):
                best[key] = row
        return sorted(best.values(), key=lambda r: r[4])

    def _build_campaignmember(self) -> list[dict[str, Any]]:
        out = []
        for c, camp, at, responded, number in self.member_rows():
            owner = self._owner_at(c)
            stamps = [at]
            if owner is not c:
                stamps.append(c.merged_at)  # type: ignore[arg-type]  # re-parented
            lead_converted = self._converted_at(c)
            # a response after the person converted is recorded on the Contact (the Lead is
            # converted and read-only); earlier ones keep LeadId and gain ContactId
            on_contact_only = owner is c and lead_converted is not None and lead_converted < at
            converted = self._converted_at(owner)
            if converted is not None and converted > at:
                stamps.append(converted)
            statuses = MEMBER_STATUSES.get(camp.objective, ("Sent", "Responded"))
            modified = sf_datetime(max(stamps))
            out.append({
                "Id": sf_id("00v", number),
                "IsDeleted": False,
                "CampaignId": self.campaign_id(camp),
                "LeadId": None if on_contact_only else sf_id("00Q", owner.contact_id),
                "ContactId": sf_id("003", owner.contact_id) if converted else None,
                "Status": statuses[1] if responded else statuses[0],
                "HasResponded": responded,
                "FirstRespondedDate": org_date(at) if responded else None,
                "CreatedDate": sf_datetime(at),
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            })
        return out

    # --- the contract's view ---------------------------------------------------------------
    STREAM_OBJECTS = {
        "users": ("User", False),
        "leads": ("Lead", True),
        "lead_history": ("LeadHistory", True),
        "contacts": ("Contact", True),
        "opportunities": ("Opportunity", True),
        "opportunity_history": ("OpportunityHistory", True),
        "opportunity_contact_roles": ("OpportunityContactRole", True),
        "tasks": ("Task", True),
        "accounts": ("Account", True),
        "events": ("Event", True),
        "campaigns": ("Campaign", True),
        "campaign_members": ("CampaignMember", True),
    }

    def expected_keys(self, stream_name: str) -> set[tuple]:
        """Ids a full read of ``stream_name`` must return at the clock (deleted rows included
        where the stream reads ``queryAll``)."""
        obj, include_deleted = self.STREAM_OBJECTS[stream_name]
        return {(r["Id"],) for r in self._records(obj)
                if include_deleted or not r.get("IsDeleted")}


def _canonical_object(name: str) -> str:
    for obj in FIELDS:
        if obj.lower() == name.lower():
            return obj
    raise SoqlError(
        "INVALID_TYPE",
        f"\nFROM {name}\n     ^\nERROR at Row:1:Column:6\nsObject type '{name}' is not "
        "supported. If you are attempting to use a custom object, be sure to append the '__c' "
        "after the entity name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def _batch_size(header: str | None) -> int:
    if header:
        m = re.search(r"batchSize\s*=\s*(\d+)", header)
        if m:
            return int(m[1])
    return MAX_BATCH


def _sort_key(value: Any) -> tuple[int, Any]:
    """Nulls first (SOQL's ascending default); datetimes sort as their fixed-width text."""
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (1, str(value))


__all__ = ["ORG_TIME_ZONE", "SalesforceSandbox", "sf_datetime", "sf_id"]
