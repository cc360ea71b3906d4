"""HubSpot streams (owners, contacts, deals, companies, calls, emails, meetings, deal
pipelines), the search paging that survives the 10k cap and the recycle-bin pass for deleted
records.

Why the search read is shaped this way (https://developers.hubspot.com/docs/api/crm/search,
"Limitations"; README.md, "Wire facts"):

* ``after`` is an offset, and HubSpot answers 400 once ``after + limit`` passes 10,000, so one
  query can never reach more than 10,000 records;
* bulk edits stamp thousands of records with one identical ``lastmodifieddate``, so "restart
  from the last timestamp seen" loops forever on them;
* so: sort by ``hs_object_id`` ascending (unique, stable) and, before the offset reaches the cap,
  restart the query at ``after=0`` with ``hs_object_id GT <last id seen>``;
* sorting by id means the cursor is only known to be complete at the end of a query, so the
  range is cut into ascending time windows on the cursor property and the state is saved when a
  window completes; a crash resumes from the last completed window;
* the state is the largest cursor value *seen in the data* (never the wall clock, which may be
  ahead of the server's), and the next run starts ``lookback`` minutes before it because the
  search index lags writes by seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from revops.settings import Settings
from revops.sources.base import MAX_CURSOR_REPEATS, Batch, Stream, records_to_table, string_columns
from revops.sources.errors import FatalAPIError
from revops.sources.http import http_options
from revops.sources.hubspot.client import PAGE_READS, STREAMS_AT_ONCE, HubSpotClient

log = logging.getLogger(__name__)

SOURCE = "hubspot"
#: HubSpot's maximum search page
SEARCH_PAGE_SIZE = 200
#: width of the time windows the incremental range is cut into
WINDOW = timedelta(days=30)
#: v4 association batch reads: ids per request
ASSOCIATION_BATCH = 100
#: v3 batch reads with property history: records per request (HubSpot's cap when
#: ``propertiesWithHistory`` is asked)
HISTORY_BATCH = 50
OWNERS_PAGE_SIZE = 100
#: the object list endpoint's maximum page (``archived=true`` reads)
LIST_PAGE_SIZE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "createdate",
    "lastmodifieddate",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "hs_v2_date_entered_subscriber",
    "hs_v2_date_entered_lead",
    "hs_v2_date_entered_marketingqualifiedlead",
    "hs_v2_date_entered_salesqualifiedlead",
    "hs_v2_date_entered_opportunity",
    "hs_v2_date_entered_customer",
    "hs_merged_object_ids",
    "hs_additional_emails",
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
    "hs_first_outreach_date",
)
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "hs_is_closed",
    "hs_is_closed_won",
    "hubspot_owner_id",
)
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "lifecyclestage",
    "createdate",
    "hs_lastmodifieddate",
    "hubspot_owner_id",
)
#: v4 association type of the Primary label, company -> contact (HUBSPOT_DEFINED type ids:
#: https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide)
COMPANY_TO_CONTACT_PRIMARY = 2
#: v4 association type of the Primary label, deal -> company (the deal's primary company)
DEAL_TO_COMPANY_PRIMARY = 5
#: calls, emails and meetings: the activity time, who logged it, and which way it went
_ACTIVITY_COMMON = ("hs_timestamp", "hs_createdate", "hs_lastmodifieddate", "hubspot_owner_id")
ACTIVITY_PROPERTIES = {
    "calls": (*_ACTIVITY_COMMON, "hs_call_direction", "hs_call_status", "hs_call_disposition"),
    "emails": (*_ACTIVITY_COMMON, "hs_email_direction", "hs_email_status"),
    "meetings": (*_ACTIVITY_COMMON, "hs_meeting_start_time", "hs_meeting_end_time",
                 "hs_meeting_outcome"),
}
_RECORD_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("createdAt", pa.string()),
    pa.field("updatedAt", pa.string()),
    pa.field("archived", pa.bool_()),
]
OWNERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("email", pa.string()),
        pa.field("firstName", pa.string()),
        pa.field("lastName", pa.string()),
        pa.field("userId", pa.int64()),
        pa.field("teams", pa.string()),
        pa.field("archived", pa.bool_()),
        pa.field("createdAt", pa.string()),
        pa.field("updatedAt", pa.string()),
    ]
)
#: one row per stage of each deal pipeline; metadata values stay strings as sent
PIPELINE_STAGES_SCHEMA = pa.schema(
    [
        pa.field("pipeline_id", pa.string(), nullable=False),
        pa.field("stage_id", pa.string(), nullable=False),
        pa.field("pipeline_label", pa.string()),
        pa.field("pipeline_display_order", pa.int64()),
        pa.field("pipeline_archived", pa.bool_()),
        pa.field("stage_label", pa.string()),
        pa.field("stage_display_order", pa.int64()),
        pa.field("stage_archived", pa.bool_()),
        pa.field("is_closed", pa.string()),
        pa.field("probability", pa.string()),
        pa.field("metadata", pa.string()),
        pa.field("createdAt", pa.string()),
        pa.field("updatedAt", pa.string()),
    ]
)

#: marketing touches: one row per form submission (``form-integrations/v1``), with the form's
#: name from ``GET /marketing/v3/forms`` and the captured fields pulled out of ``values``
FORM_SUBMISSIONS_SCHEMA = pa.schema(
    [
        pa.field("conversionId", pa.string(), nullable=False),
        pa.field("formId", pa.string()),
        pa.field("formName", pa.string()),
        pa.field("submittedAt", pa.int64()),
        pa.field("pageUrl", pa.string()),
        pa.field("email", pa.string()),
        pa.field("utm_campaign", pa.string()),
        pa.field("values", pa.string()),
    ]
)
FORMS_PAGE_SIZE = 100
#: the submissions endpoint's maximum page
SUBMISSIONS_PAGE_SIZE = 50
#: submissions a batch holds at most: a form's whole history would be one batch otherwise, and
#: memory would grow with the world (~140k submissions a form at issue 15's size)
SUBMISSIONS_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class SearchObject:
    """A CRM object read through the search endpoint."""

    object_type: str
    cursor: str
    properties: tuple[str, ...]
    #: read the object -> contact associations (v4) into ``associated_contact_ids``
    with_contacts: bool = False
    #: also list the recycle bin (``archived=true``): deleted records, which search never shows
    archived_pass: bool = False
    #: the association typeId marking the primary contact: kept in ``primary_contact_id``
    primary_contact_type: int | None = None
    #: read the object -> company associations (v4) into ``associated_company_ids``, the one
    #: carrying this typeId (the Primary label) into ``primary_company_id``
    primary_company_type: int | None = None
    #: a property whose own history is read (v3 batch read, ``propertiesWithHistory``): the
    #: time its current value was set is kept in ``<property>_set_at``
    history_of: str | None = None


def search_schema(obj: SearchObject) -> pa.Schema:
    fields = [*_RECORD_FIELDS, *(pa.field(p, pa.string()) for p in obj.properties)]
    if obj.with_contacts:
        fields.append(pa.field("associated_contact_ids", pa.string()))
    if obj.primary_contact_type is not None:
        fields.append(pa.field("primary_contact_id", pa.string()))
    if obj.primary_company_type is not None:
        fields.append(pa.field("associated_company_ids", pa.string()))
        fields.append(pa.field("primary_company_id", pa.string()))
    if obj.history_of is not None:
        fields.append(pa.field(f"{obj.history_of}_set_at", pa.string()))
    if obj.archived_pass:
        fields.append(pa.field("archivedAt", pa.string()))
    return pa.schema(fields)


# --------------------------------------------------------------------------- time helpers
def _ms_or_none(value: Any) -> int | None:
    """``to_ms`` that gives None for a value that is no datetime (a version without one)."""
    try:
        return to_ms(value)
    except (TypeError, ValueError):
        return None


def _written_alike(stamps: list[Any]) -> bool:
    """Whether every stamp is written as HubSpot writes datetimes, ``2024-05-01T12:34:56.789Z``:
    written so, the latest is the greatest string, and only it needs parsing."""
    return bool(stamps) and all(isinstance(s, str) and len(s) == 24 and s[10] == "T" and s[-1] == "Z"
                                for s in stamps)


def _latest_timestamp(stamps: list[Any]) -> Any:
    """The latest of a property's version timestamps as sent (None when none is a datetime):
    the greatest string when they are :func:`_written_alike` (parsed, as a check); anything
    else, each is parsed (a third of the contacts' history reading went to parsing every
    version)."""
    if _written_alike(stamps):
        latest = max(stamps)
        if _ms_or_none(latest) is not None:
            return latest
    parsed = [(ms, s) for s in stamps if (ms := _ms_or_none(s)) is not None]
    return max(parsed)[1] if parsed else None


def to_ms(value: str | int | None) -> int | None:
    """A HubSpot datetime (ISO string, millis optional, or epoch-ms) as epoch milliseconds."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def ms_to_iso(ms: int) -> str:
    dt = _EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


Window = tuple[int | None, int | None]


def windows(lo: int | None, first: int, last: int, width_ms: int) -> list[Window]:
    """Ascending ``[start, end)`` windows covering ``lo`` (None = unbounded) to open-ended.

    Edges step from the oldest cursor value in the data (``first``) so no window is empty by
    construction; the last window is open-ended so records modified during the read are kept.
    """
    out: list[Window] = []
    start, edge = lo, first + width_ms
    while edge <= last:
        out.append((start, edge))
        start, edge = edge, edge + width_ms
    out.append((start, None))
    return out


# --------------------------------------------------------------------------- the source
class HubSpotSource:
    """Reads owners and deal pipelines (full refresh); contacts, deals, companies, calls, emails
    and meetings (incremental search; contacts, deals and companies also list their recycle
    bin)."""

    name = SOURCE
    #: streams read side by side (``pipeline.sync_source``): the contacts (a search page, then
    #: the history reads of its records) and the form submissions each take minutes on a large
    #: portal; in turn they were the large world's whole critical path (the ad platforms done at
    #: ~360 s, HubSpot's streams one after another at 695 s; two side by side 490 s; three, the
    #: two longest first, bench/README.md). They share the one client, so HubSpot's rate limit
    #: still counts every request (every thread waits when the window runs out; a 429 is retried)
    stream_workers = STREAMS_AT_ONCE

    def __init__(
        self,
        settings: Settings,
        *,
        client: HubSpotClient | None = None,
        search_cap: int | None = None,
        window: timedelta = WINDOW,
        page_size: int = SEARCH_PAGE_SIZE,
    ):
        token = settings.hubspot_access_token
        self.client = client or HubSpotClient(
            settings.hubspot_base_url,
            token.get_secret_value() if token else None,
            **http_options(settings),
        )
        if search_cap is not None:
            self.client.search_cap = search_cap
        self.window = window
        self.page_size = page_size
        self.lookback_minutes = settings.hubspot_lookback_minutes
        self.utm_campaign_field = settings.hubspot_utm_campaign_property
        contact_props = tuple(
            dict.fromkeys(
                [
                    *CONTACT_PROPERTIES,
                    settings.hubspot_utm_campaign_property,
                    settings.hubspot_rejection_reason_property,
                    settings.hubspot_rejected_at_property,
                ]
            )
        )
        self.objects = {
            "contacts": SearchObject(
                "contacts", "lastmodifieddate", contact_props, archived_pass=True,
                history_of="hs_lead_status",
            ),
            "deals": SearchObject(
                "deals", "hs_lastmodifieddate", DEAL_PROPERTIES, with_contacts=True,
                archived_pass=True, primary_company_type=DEAL_TO_COMPANY_PRIMARY,
            ),
            "companies": SearchObject(
                "companies", "hs_lastmodifieddate", COMPANY_PROPERTIES, with_contacts=True,
                archived_pass=True, primary_contact_type=COMPANY_TO_CONTACT_PRIMARY,
            ),
            **{
                kind: SearchObject(kind, "hs_lastmodifieddate", props, with_contacts=True)
                for kind, props in ACTIVITY_PROPERTIES.items()
            },
        }
        search = [
            Stream(SOURCE, name, ("id",), search_schema(obj), cursor_field=obj.cursor,
                   lookback=self.lookback_minutes,
                   description=f"CRM {name} via search, incremental on {obj.cursor}"
                   + (" (+ deleted ones via archived=true)" if obj.archived_pass else ""))
            for name, obj in self.objects.items()
        ]
        # the streams start in this order, ``stream_workers`` at a time: the two longest first
        # (the contacts, then the form submissions, ~2.4M rows 50 a request) so that neither
        # is left to run alone at the end (last, the submissions ended the large world's read
        # 100 s after everything else: bench/README.md)
        self._streams = [
            Stream(SOURCE, "owners", ("id",), OWNERS_SCHEMA,
                   description="CRM users who own contacts and deals (full refresh)"),
            search[0],
            Stream(SOURCE, "form_submissions", ("conversionId",), FORM_SUBMISSIONS_SCHEMA,
                   cursor_field="submittedAt", lookback=self.lookback_minutes,
                   description="form submissions (marketing touches) of every form, newest "
                   "first, read until the saved submittedAt minus the lookback"),
            *search[1:],
            Stream(SOURCE, "deal_pipelines", ("pipeline_id", "stage_id"),
                   PIPELINE_STAGES_SCHEMA,
                   description="deal pipelines, one row per stage (full refresh)"),
        ]

    def check(self) -> str:
        """``GET /crm/v3/owners?limit=1``: the token is valid and reads owners."""
        self.client.get_json("/crm/v3/owners", params={"limit": 1, "archived": "false"})
        return "token accepted, owners readable"

    @property
    def streams(self) -> list[Stream]:
        return list(self._streams)

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        if stream.name == "owners":
            yield from self._read_owners(stream)
        elif stream.name == "deal_pipelines":
            yield from self._read_pipelines(stream)
        elif stream.name == "form_submissions":
            yield from self._read_submissions(stream, state or {})
        elif stream.name in self.objects:
            obj = self.objects[stream.name]
            state = state or {}
            # the recycle-bin position rides along unchanged on the search's states
            kept = {k: v for k, v in state.items() if k == "archived_cursor"}
            cursor = state.get("cursor")
            for batch in self._read_search(stream, obj, state):
                if batch.state is not None:
                    cursor = batch.state["cursor"]
                    batch.state = {**kept, **batch.state}
                yield batch
            if obj.archived_pass:
                yield from self._read_archived(stream, obj, {**kept, "cursor": cursor})
        else:
            raise KeyError(f"hubspot has no stream {stream.name!r}")

    # --- owners ---------------------------------------------------------------------------
    def _read_owners(self, stream: Stream) -> Iterator[Batch]:
        after: str | None = None
        seen: dict[str, int] = {}  # cursors followed: a repeating one must not page forever
        while True:
            params = {"limit": OWNERS_PAGE_SIZE, "archived": "false"}
            if after:
                params["after"] = after
            body = self.client.get_json("/crm/v3/owners", params=params)
            rows = [_owner_row(o) for o in body.get("results", [])]
            after = _follow(body, seen)
            yield Batch(stream, records_to_table(stream, rows), meta={"after": params.get("after")})
            if not after:
                return

    # --- pipelines ------------------------------------------------------------------------
    def _read_pipelines(self, stream: Stream) -> Iterator[Batch]:
        """``GET /crm/v3/pipelines/deals``: one call, every pipeline with its stages."""
        body = self.client.get_json("/crm/v3/pipelines/deals")
        rows = [
            _stage_row(pipeline, stage)
            for pipeline in body.get("results", [])
            for stage in pipeline.get("stages") or []
        ]
        yield Batch(stream, records_to_table(stream, rows))

    # --- form submissions -----------------------------------------------------------------
    def _read_forms(self) -> list[dict[str, Any]]:
        """``GET /marketing/v3/forms``: every form (id = the GUID submissions are read by)."""
        forms: list[dict[str, Any]] = []
        after: str | None = None
        seen: dict[str, int] = {}  # cursors followed: a repeating one must not page forever
        while True:
            params: dict[str, Any] = {"limit": FORMS_PAGE_SIZE}
            if after:
                params["after"] = after
            body = self.client.get_json("/marketing/v3/forms", params=params)
            forms += body.get("results", [])
            after = _follow(body, seen)
            if not after:
                return forms

    def _read_submissions(self, stream: Stream, state: dict[str, Any]) -> Iterator[Batch]:
        """Each form's submissions, ``GET /form-integrations/v1/submissions/forms/{guid}``,
        50 a page. The endpoint has no time filter but answers newest first (HubSpot's reference:
        "Submissions will be returned in reverse-chronological order", cited in the README), so
        paging stops at the first submission older than the saved cursor minus the lookback
        (everything on the first run). Batches of at most ``SUBMISSIONS_BATCH_ROWS``, at least one per
        form; the state (the newest ``submittedAt`` seen, ISO) rides on the last one, so a crash
        re-reads from the previous run's cursor."""
        saved = to_ms(state.get("cursor"))
        lo = None if saved is None else saved - self.lookback_minutes * 60_000
        best = saved
        forms = self._read_forms()
        for i, form in enumerate(forms):
            guid = str(form["id"])
            rows: list[dict[str, Any]] = []
            after: str | None = None
            seen: dict[str, int] = {}  # cursors followed: a repeating one must not page forever
            while True:
                params: dict[str, Any] = {"limit": SUBMISSIONS_PAGE_SIZE}
                if after:
                    params["after"] = after
                body = self.client.get_json(
                    f"/form-integrations/v1/submissions/forms/{guid}", params=params
                )
                reached = False
                for sub in body.get("results", []):
                    at = sub.get("submittedAt")
                    at = int(at) if at is not None else None
                    if at is not None and lo is not None and at < lo:
                        reached = True
                        break
                    rows.append(self._submission_row(form, sub))
                    if at is not None and (best is None or at > best):
                        best = at
                after = _follow(body, seen)
                if len(rows) >= SUBMISSIONS_BATCH_ROWS and after and not reached:
                    yield Batch(stream, records_to_table(stream, rows), meta={"form": guid})
                    rows = []
                if reached or not after:
                    break
            last = i == len(forms) - 1
            out_state = {"cursor": ms_to_iso(best)} if last and best is not None else None
            if rows or out_state:
                yield Batch(stream, records_to_table(stream, rows), state=out_state,
                            meta={"form": guid})

    def _submission_row(self, form: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
        values = sub.get("values") or []
        by_name: dict[str, str] = {}
        for v in values:  # a field may repeat (multi-select): the first value is kept
            by_name.setdefault(str(v.get("name")), v.get("value"))
        at = sub.get("submittedAt")
        return {
            "conversionId": str(sub["conversionId"]),
            "formId": str(form["id"]),
            "formName": form.get("name"),
            "submittedAt": int(at) if at is not None else None,
            "pageUrl": sub.get("pageUrl"),
            "email": by_name.get("email"),
            "utm_campaign": by_name.get(self.utm_campaign_field),
            # orjson, keys sorted, as json.dumps(sort_keys=True) but compact and ~10x faster
            # (2.4M submissions in the large world)
            "values": orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode(),
        }

    # --- the recycle bin ------------------------------------------------------------------
    def _read_archived(
        self, stream: Stream, obj: SearchObject, state: dict[str, Any]
    ) -> Iterator[Batch]:
        """Deleted records: ``GET /crm/v3/objects/{type}?archived=true`` (search never returns
        them). The list has no filter, so every page is read; rows archived before the saved
        ``archived_cursor`` (minus the lookback) were loaded by an earlier run and are skipped.
        Each row keeps ``archived = true`` and ``archivedAt``; it replaces the live row of the
        same id in raw. One batch at the end carries the new ``archived_cursor``."""
        saved = to_ms(state.get("archived_cursor"))
        lo = None if saved is None else saved - self.lookback_minutes * 60_000
        best = saved
        kept: list[dict[str, Any]] = []
        after: str | None = None
        seen: dict[str, int] = {}  # cursors followed: a repeating one must not page forever
        while True:
            params: dict[str, Any] = {
                "limit": LIST_PAGE_SIZE,
                "archived": "true",
                "properties": ",".join(obj.properties),
            }
            if after:
                params["after"] = after
            body = self.client.get_json(f"/crm/v3/objects/{obj.object_type}", params=params)
            for result in body.get("results", []):
                at = to_ms(result.get("archivedAt"))
                if at is not None and lo is not None and at < lo:
                    continue
                kept.append(result)
                if at is not None and (best is None or at > best):
                    best = at
            after = _follow(body, seen)
            if not after:
                break
        if best is None or (not kept and best == saved):
            return  # nothing deleted since the last run: no batch, the state stays
        new_state = {key: value for key, value in state.items() if value is not None}
        new_state["archived_cursor"] = ms_to_iso(best)
        log.info("hubspot: %d archived %s", len(kept), obj.object_type)
        # a deleted record has no associations left to read: those columns stay null
        table = results_table(stream, kept, {"archivedAt": [r.get("archivedAt") for r in kept]})
        yield Batch(stream, table, state=new_state, meta={"archived": True})

    # --- search ---------------------------------------------------------------------------
    def _read_search(
        self, stream: Stream, obj: SearchObject, state: dict[str, Any]
    ) -> Iterator[Batch]:
        saved = to_ms(state.get("cursor"))
        lo = None if saved is None else saved - self.lookback_minutes * 60_000
        bounds = self._data_bounds(obj, lo)
        if bounds is None:
            log.info("hubspot: no %s modified since %s", obj.object_type, state.get("cursor"))
            return
        width = self.window // timedelta(milliseconds=1)
        best = saved
        for start, end in windows(lo, bounds[0], bounds[1], width):
            seen_any = False
            for results, extra, done in self._read_window(obj, start, end):
                cursors = [(result.get("properties") or {}).get(obj.cursor) for result in results]
                # the page's latest cursor: parsing every row's took 2.5 % of the extraction bench
                for value in map(to_ms, [max(cursors)] if _written_alike(cursors) else cursors):
                    if value is not None and (best is None or value > best):
                        best = value
                seen_any = seen_any or bool(results)
                complete = done and seen_any and best is not None
                state_out = {"cursor": ms_to_iso(best)} if complete else None
                if results or state_out:
                    yield Batch(stream, results_table(stream, results, extra), state=state_out,
                                meta={"window": [start, end]})

    def _search(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """One search page. A page with no rows that still has a next cursor (an index catching
        up) is asked again, a few times: taken as the end it would skip the rest of the window."""
        for _ in range(MAX_CURSOR_REPEATS + 1):
            page = self.client.search(object_type, body)
            if page.get("results") or _next_after(page) is None:
                return page
        raise FatalAPIError(
            f"hubspot: {object_type} search answered {MAX_CURSOR_REPEATS + 1} empty pages that still "
            "had a next cursor; stopping (what was read is kept; rerun later)")

    def _data_bounds(self, obj: SearchObject, lo: int | None) -> tuple[int, int] | None:
        """Oldest and newest cursor value at or after ``lo`` (two one-record searches)."""
        ends = []
        for direction in ("ASCENDING", "DESCENDING"):
            body = {
                "filterGroups": _groups(_range_filters(obj.cursor, lo, None)),
                "sorts": [{"propertyName": obj.cursor, "direction": direction}],
                "properties": [obj.cursor],
                "limit": 1,
                "after": "0",
            }
            results = self._search(obj.object_type, body).get("results", [])
            if not results:
                return None
            ends.append(to_ms(results[0]["properties"].get(obj.cursor)))
        if ends[0] is None or ends[1] is None:
            return None
        return ends[0], max(ends)

    def _read_window(
        self, obj: SearchObject, start: int | None, end: int | None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, list[Any]], bool]]:
        """Pages of one window as ``(results, columns read besides them, window_done)``, by
        keyset on ``hs_object_id``.

        Every page is a fresh query at offset 0 for ids above the last one seen. Offsets
        (``after``) would shift when a record of the window is modified during the read and skip
        its neighbour, and they hit HubSpot's 10,000-result cap; keyset paging does neither. A
        record modified mid-read moves to a later cursor value: the open-ended last window or
        the next run's lookback picks it up.

        A page's reads are not made one after another: the next page's search (it needs only
        this page's last id) and this page's history or association reads (independent of
        each other) are sent side by side, ``PAGE_READS`` at a time, and the page is yielded
        once its columns are in, the next search running on while the page is loaded. One at a
        time, a large portal's contacts waited on five round trips a page (the large world's
        critical path: bench/README.md). The requests, rows and order are the same; the client's
        rate limit counts every one of them.
        """
        limit = min(self.page_size, self.client.search_cap)

        def body(last_id: int | None) -> dict[str, Any]:
            filters = _range_filters(obj.cursor, start, end)
            if last_id is not None:
                filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)})
            return {
                "filterGroups": _groups(filters),
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": list(obj.properties),
                "limit": limit,
                "after": "0",
            }

        with ThreadPoolExecutor(PAGE_READS, thread_name_prefix=f"hubspot-{obj.object_type}") as pool:
            page = self._search(obj.object_type, body(None))
            while True:
                results = page.get("results", [])
                done = _next_after(page) is None or not results
                following = None if done else pool.submit(
                    self._search, obj.object_type, body(int(results[-1]["id"])))
                ids = [str(r["id"]) for r in results]
                extra: dict[str, list[Any]] = {}
                if obj.with_contacts and ids:
                    extra.update(self._contact_columns(obj, ids, pool.map))
                if obj.primary_company_type is not None and ids:
                    extra.update(self._company_columns(obj, ids, pool.map))
                if obj.history_of is not None and ids:
                    extra.update(self._history_columns(obj, ids, pool.map))
                yield results, extra, done
                if following is None:
                    return
                page = following.result()

    def _history_columns(self, obj: SearchObject, ids: list[str], each: Each = map) -> dict[str, list[str | None]]:
        """``<property>_set_at``: when the property got its current value, from the property's
        own history (``POST /crm/v3/objects/{type}/batch/read`` with ``propertiesWithHistory``,
        at most 50 records per request when history is asked; search returns no history), the
        requests made through ``each`` (``map``, or a pool's: side by side).
        The latest version's timestamp, whatever order the versions come in; None when the
        record has no history (or is gone by the time of the read)."""
        prop = obj.history_of

        def read(chunk: list[str]) -> dict[str, Any]:
            return self.client.post_json(
                f"/crm/v3/objects/{obj.object_type}/batch/read",
                json={"inputs": [{"id": i} for i in chunk], "properties": [prop],
                      "propertiesWithHistory": [prop]},
            )

        set_at: dict[str, str | None] = {}
        for body in each(read, _chunks(ids, HISTORY_BATCH)):
            for result in body.get("results", []):
                versions = (result.get("propertiesWithHistory") or {}).get(prop) or []
                set_at[str(result["id"])] = _latest_timestamp([v.get("timestamp") for v in versions])
        return {f"{prop}_set_at": [set_at.get(i) for i in ids]}

    def _contact_columns(self, obj: SearchObject, ids: list[str], each: Each = map) -> dict[str, list[str | None]]:
        """Object -> contact ids via the v4 batch read (search returns no associations); with
        ``primary_contact_type``, the contact carrying that type id is ``primary_contact_id``."""
        found, primary = self._associations(obj.object_type, "contacts", ids,
                                            obj.primary_contact_type, each)
        columns = {"associated_contact_ids": [";".join(found.get(i, [])) or None for i in ids]}
        if obj.primary_contact_type is not None:
            columns["primary_contact_id"] = [primary.get(i) for i in ids]
        return columns

    def _company_columns(self, obj: SearchObject, ids: list[str], each: Each = map) -> dict[str, list[str | None]]:
        """Object -> company ids (``associated_company_ids``) and the one labelled Primary
        (``primary_company_type``: ``primary_company_id``), via the v4 batch read."""
        found, primary = self._associations(obj.object_type, "companies", ids,
                                            obj.primary_company_type, each)
        return {"associated_company_ids": [";".join(found.get(i, [])) or None for i in ids],
                "primary_company_id": [primary.get(i) for i in ids]}

    def _associations(self, object_type: str, to_type: str, ids: list[str], primary_type: int | None,
                      each: Each = map) -> tuple[dict[str, list[str]], dict[str, str]]:
        """``POST /crm/v4/associations/{object_type}/{to_type}/batch/read`` for ``ids``,
        ``ASSOCIATION_BATCH`` a request, through ``each``: each id's associated ids
        (deduplicated, in the order sent) and, with ``primary_type``, the one carrying that
        association type id. An id whose associations run on to a next page is read on in its
        chunk's own request sequence."""

        def read(chunk: list[str]) -> list[dict[str, Any]]:
            results, pending = [], [{"id": i} for i in chunk]
            while pending:
                body = self.client.post_json(
                    f"/crm/v4/associations/{object_type}/{to_type}/batch/read",
                    json={"inputs": pending},
                )
                pending = []
                for result in body.get("results", []):
                    results.append(result)
                    more = _next_after(result)
                    if more:
                        pending.append({"id": str(result["from"]["id"]), "after": more})
            return results

        found: dict[str, list[str]] = {i: [] for i in ids}
        primary: dict[str, str] = {}
        for results in each(read, _chunks(ids, ASSOCIATION_BATCH)):
            for result in results:
                from_id = str(result["from"]["id"])
                to_ids = [str(t["toObjectId"]) for t in result.get("to", [])]
                found.setdefault(from_id, []).extend(to_ids)
                if primary_type is not None:
                    for t in result.get("to", []):
                        types = {a.get("typeId") for a in t.get("associationTypes") or []}
                        if primary_type in types:
                            primary.setdefault(from_id, str(t["toObjectId"]))
        return {k: list(dict.fromkeys(v)) for k, v in found.items()}, primary


# --------------------------------------------------------------------------- wire helpers
#: how a page's batch reads are made: ``map`` (one after another) or a thread pool's ``map``
#: (side by side); either gives the answers in the order of the requests
Each = Callable[..., Iterable[Any]]


def _chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _range_filters(prop: str, start: int | None, end: int | None) -> list[dict[str, str]]:
    filters = []
    if start is not None:
        filters.append({"propertyName": prop, "operator": "GTE", "value": str(start)})
    if end is not None:
        filters.append({"propertyName": prop, "operator": "LT", "value": str(end)})
    return filters


def _groups(filters: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"filters": filters}] if filters else []


def _next_after(body: dict[str, Any]) -> str | None:
    return ((body.get("paging") or {}).get("next") or {}).get("after") or None


# MAX_CURSOR_REPEATS (revops.sources.base): times a list endpoint may hand back a cursor already
# followed, anywhere in the read (the page is read again and merges on its key), before it stops


def _follow(body: dict[str, Any], seen: dict[str, int]) -> str | None:
    """The next cursor of a list page; FatalAPIError when the server keeps repeating one."""
    after = _next_after(body)
    if after is not None:
        seen[after] = seen.get(after, 0) + 1
        if seen[after] > MAX_CURSOR_REPEATS:
            raise FatalAPIError(
                f"hubspot: the API answered the paging cursor {after!r} {seen[after]} times; it is "
                "not advancing, so the read stops here (what was read is kept; rerun later)")
    return after


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


#: a search or list result's own fields (the rest of a row are its ``properties``)
_TOP_LEVEL = {"id": lambda r: str(r["id"]), "createdAt": lambda r: r.get("createdAt"),
              "updatedAt": lambda r: r.get("updatedAt"),
              "archived": lambda r: bool(r.get("archived", False))}


def results_table(stream: Stream, results: list[dict[str, Any]],
                  extra: dict[str, list[Any]]) -> pa.Table:
    """Search or list results as the stream's table, column by column (a dict per row cost more
    than the page's decoding): the result's own fields, each declared property as a string as
    sent, and the ``extra`` columns read besides (associations, history, ``archivedAt``); a
    declared column that none of these gives is null."""
    props = [r.get("properties") or {} for r in results]
    # each property as sent when it is a string, else its ``str`` (as HubSpot rows always had)
    properties = string_columns(
        props, [f.name for f in stream.schema if f.name not in extra and f.name not in _TOP_LEVEL], _str_or_none)
    arrays = []
    for field in stream.schema:
        if field.name in extra:
            arrays.append(pa.array(extra[field.name], field.type))
        elif field.name in _TOP_LEVEL:
            arrays.append(pa.array([_TOP_LEVEL[field.name](r) for r in results], field.type))
        else:
            arrays.append(properties[field.name])
    return pa.Table.from_arrays(arrays, schema=stream.schema)


def _stage_row(pipeline: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    """One pipeline stage; ``metadata.isClosed``/``probability`` are strings, kept as sent."""
    meta = stage.get("metadata") or {}
    return {
        "pipeline_id": str(pipeline["id"]),
        "stage_id": str(stage["id"]),
        "pipeline_label": pipeline.get("label"),
        "pipeline_display_order": pipeline.get("displayOrder"),
        "pipeline_archived": bool(pipeline.get("archived", False)),
        "stage_label": stage.get("label"),
        "stage_display_order": stage.get("displayOrder"),
        "stage_archived": bool(stage.get("archived", False)),
        "is_closed": None if meta.get("isClosed") is None else str(meta["isClosed"]),
        "probability": None if meta.get("probability") is None else str(meta["probability"]),
        "metadata": json.dumps(meta, sort_keys=True),
        "createdAt": stage.get("createdAt"),
        "updatedAt": stage.get("updatedAt"),
    }


def _owner_row(owner: dict[str, Any]) -> dict[str, Any]:
    user_id = owner.get("userId")
    return {
        "id": str(owner["id"]),
        "email": owner.get("email"),
        "firstName": owner.get("firstName"),
        "lastName": owner.get("lastName"),
        "userId": int(user_id) if user_id is not None else None,
        "teams": json.dumps(owner.get("teams") or [], sort_keys=True),
        "archived": bool(owner.get("archived", False)),
        "createdAt": owner.get("createdAt"),
        "updatedAt": owner.get("updatedAt"),
    }
