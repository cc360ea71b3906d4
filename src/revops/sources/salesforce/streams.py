"""Salesforce streams (declared as data) and the SOQL reads that fill them.

Incremental reads, per object (``queryAll`` and ``IsDeleted``:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm):

* ``SELECT <fields> FROM <Object> WHERE <cursor> >= <saved − lookback> ORDER BY <cursor>, Id``
  through ``/queryAll`` for every object that can be deleted (Lead, Contact, Opportunity and
  the children deleted with them: LeadHistory, OpportunityHistory, OpportunityContactRole, Task,
  whose activities older than a year are also archived: only queryAll returns them), so a
  merged-away Lead arrives with ``IsDeleted=true`` and ``MasterRecordId`` and a deleted one
  with ``IsDeleted=true`` alone, its ``SystemModstamp`` moved to the deletion; ``/query`` for
  User, which is deactivated, never deleted. The first run has no ``WHERE`` (a CRM's history starts before our ``start_date``).
  CampaignMember is hard-deleted (no ``IsDeleted`` row): its removed members come from the
  delete log, sObject Get Deleted (``GET /sobjects/CampaignMember/deleted/?start=&end=``:
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm).
* The cursor is ``SystemModstamp`` (indexed, moved by every change including system ones,
  never back-dated the way ``LastModifiedDate`` can be by imports). ``LeadHistory`` has none:
  history rows are immutable, its cursor is ``CreatedDate``.
* ``>=`` and a lookback of ``salesforce_lookback_minutes``: rows committed late with an older
  stamp are re-read; rows are merged on ``Id`` so a re-read is harmless.
* Pages follow ``nextRecordsUrl`` until ``done``; the batch size is sent as
  ``Sforce-Query-Options: batchSize=N``.
* One batch per page, each with its state: ordered by the cursor, every row before the page's
  last cursor value has been read, so ``{"cursor": <last row's value>}`` is safe to save with the
  page (rows sharing that value are re-read by ``>=``). A run stopped by the daily request limit
  keeps every loaded page and the next run resumes from the last one.
* A dead cursor (``INVALID_QUERY_LOCATOR``) restarts the query at the last cursor value read.
* The state is the cursor value as Salesforce sent it (``2026-10-03T14:22:05.000+0000``), never
  the wall clock. SOQL takes datetime literals to the second, so the lower bound is floored.

Records are stored as sent: ``attributes`` dropped, every field a string (JSON ``true``/
``false`` spelled that way, numbers with the digits sent, ``null`` as null).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from revops.settings import Settings
from revops.sources.base import Batch, CursorRepeats, Stream, records_to_table
from revops.sources.http import http_options
from revops.sources.errors import FatalAPIError
from revops.sources.salesforce.client import InvalidQueryLocator, SalesforceClient

log = logging.getLogger(__name__)

SOURCE = "salesforce"
#: how often one read may restart after a dead query locator before giving up
MAX_LOCATOR_RESTARTS = 3


@dataclass(frozen=True)
class SObject:
    """One Salesforce object read into one stream."""

    stream: str
    sobject: str
    fields: tuple[str, ...]
    #: None = full refresh
    cursor: str | None = "SystemModstamp"
    #: read through /queryAll: deleted, merged and archived rows too
    query_all: bool = False
    #: hard-deleted (no IsDeleted row, no recycle bin): deletes come from the delete log,
    #: ``GET /sobjects/{sObject}/deleted/?start=&end=`` (:meth:`SalesforceSource._deleted`)
    delete_log: bool = False
    description: str = ""


def sobjects(settings: Settings) -> list[SObject]:
    """The objects read, in load order; custom Lead fields come from settings."""
    return [
        SObject("users", "User",
                ("Id", "Username", "Name", "FirstName", "LastName", "Email", "IsActive",
                 "Department", "UserType", "CreatedDate", "SystemModstamp"),
                cursor=None, description="CRM users who own leads and opportunities (full refresh)"),
        SObject("leads", "Lead",
                ("Id", "IsDeleted", "MasterRecordId", "FirstName", "LastName", "Company", "Email",
                 "LeadSource", "Status", "OwnerId", "IsConverted", "ConvertedDate",
                 "ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId",
                 "CreatedDate", "LastModifiedDate", "SystemModstamp",
                 *dict.fromkeys([settings.salesforce_utm_campaign_field,
                                 settings.salesforce_rejection_reason_field])),
                query_all=True, description="every lead, deleted/merged ones included"),
        SObject("lead_history", "LeadHistory",
                ("Id", "IsDeleted", "LeadId", "CreatedById", "CreatedDate", "Field", "DataType",
                 "OldValue", "NewValue"),
                cursor="CreatedDate", query_all=True,
                description="field history of leads: Status changes, created, leadConverted"),
        SObject("contacts", "Contact",
                ("Id", "IsDeleted", "MasterRecordId", "AccountId", "FirstName", "LastName",
                 "Email", "LeadSource", "OwnerId", "CreatedDate", "LastModifiedDate",
                 "SystemModstamp"),
                query_all=True, description="contacts (converted leads), deleted ones included"),
        SObject("opportunities", "Opportunity",
                ("Id", "IsDeleted", "AccountId", "Name", "StageName", "Amount", "Probability",
                 "CloseDate", "Type", "LeadSource", "IsClosed", "IsWon", "ForecastCategory",
                 "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
                query_all=True, description="opportunities, deleted ones included"),
        SObject("opportunity_history", "OpportunityHistory",
                ("Id", "IsDeleted", "OpportunityId", "CreatedDate", "StageName", "Amount",
                 "CloseDate", "Probability", "ForecastCategory", "SystemModstamp"),
                query_all=True,
                description="one row per opportunity stage/amount/close-date change, a deleted "
                            "opportunity's included"),
        SObject("opportunity_contact_roles", "OpportunityContactRole",
                ("Id", "IsDeleted", "OpportunityId", "ContactId", "Role", "IsPrimary",
                 "CreatedDate", "SystemModstamp"),
                query_all=True, description="contacts on opportunities (primary flag)"),
        SObject("tasks", "Task",
                ("Id", "IsDeleted", "WhoId", "WhatId", "Subject", "ActivityDate", "Status",
                 "OwnerId", "IsClosed", "TaskSubtype", "Type", "CompletedDateTime",
                 "CreatedDate", "SystemModstamp"),
                query_all=True, description="tasks (calls, emails), archived ones included"),
        SObject("accounts", "Account",
                ("Id", "IsDeleted", "MasterRecordId", "Name", "Type", "OwnerId", "CreatedDate",
                 "LastModifiedDate", "SystemModstamp"),
                query_all=True, description="accounts (created by lead conversion), deleted ones included"),
        SObject("events", "Event",
                ("Id", "IsDeleted", "WhoId", "WhatId", "Subject", "ActivityDateTime",
                 "ActivityDate", "StartDateTime", "EndDateTime", "DurationInMinutes",
                 "EventSubtype", "Type", "OwnerId", "CreatedDate", "SystemModstamp"),
                query_all=True, description="events (meetings), archived and deleted ones included"),
        SObject("campaigns", "Campaign",
                ("Id", "IsDeleted", "Name", "ParentId", "Type", "Status", "StartDate", "EndDate",
                 "IsActive", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                 settings.salesforce_campaign_utm_field),
                query_all=True, description="marketing campaigns, deleted ones included"),
        SObject("campaign_members", "CampaignMember",
                ("Id", "IsDeleted", "CampaignId", "LeadId", "ContactId", "Status", "HasResponded",
                 "FirstRespondedDate", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
                query_all=True, delete_log=True,
                description="leads/contacts on campaigns (responses = marketing touches); hard "
                            "deletes leave no IsDeleted row [airbytehq/airbyte#44845]: they come "
                            "from the delete log (sObject Get Deleted) as IsDeleted=true rows"),
    ]


def schema_for(obj: SObject) -> pa.Schema:
    return pa.schema([pa.field(f, pa.string(), nullable=(f != "Id")) for f in obj.fields])


# --------------------------------------------------------------------------- values
def wire_string(value: Any) -> str | None:
    """A typed JSON value as the raw string column keeps it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def parse_sf_datetime(text: str) -> datetime:
    """``2026-10-03T14:22:05.000+0000`` (also accepts ``Z`` and ``+00:00``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def soql_datetime(dt: datetime) -> str:
    """SOQL's literal (no quotes, no fractional seconds): floored to the second."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_soql(obj: SObject, since: datetime | None) -> str:
    soql = f"SELECT {', '.join(obj.fields)} FROM {obj.sobject}"
    if obj.cursor and since is not None:
        soql += f" WHERE {obj.cursor} >= {soql_datetime(since)}"
    order = f"{obj.cursor}, Id" if obj.cursor else "Id"
    return f"{soql} ORDER BY {order}"


# --------------------------------------------------------------------------- the source
class SalesforceSource:
    """Reads users (full refresh) and the funnel objects (incremental SOQL) from Salesforce."""

    name = SOURCE

    def __init__(self, settings: Settings, *, client: SalesforceClient | None = None):
        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        self.client = client or SalesforceClient(
            settings.salesforce_login_url,
            client_id=settings.salesforce_client_id,
            client_secret=secret(settings.salesforce_client_secret),
            refresh_token=secret(settings.salesforce_refresh_token),
            api_version=settings.salesforce_api_version,
            **http_options(settings),
        )
        self.batch_size = settings.salesforce_batch_size
        self.lookback_minutes = settings.salesforce_lookback_minutes
        self.objects = {o.stream: o for o in sobjects(settings)}
        self._streams = [
            Stream(SOURCE, o.stream, ("Id",), schema_for(o), cursor_field=o.cursor,
                   lookback=self.lookback_minutes if o.cursor else 0,
                   description=f"{o.sobject}: {o.description}")
            for o in self.objects.values()
        ]

    def check(self) -> str:
        """A refresh-token login and ``SELECT Id FROM User LIMIT 1``."""
        self.client.get_json(self.client.query_path("query"), params={"q": "SELECT Id FROM User LIMIT 1"})
        return f"logged in, instance {self.client.instance_url} answers queries"

    @property
    def streams(self) -> list[Stream]:
        return list(self._streams)

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        obj = self.objects.get(stream.name)
        if obj is None:
            raise KeyError(f"salesforce has no stream {stream.name!r}")
        saved = (state or {}).get("cursor") if obj.cursor else None
        since = None
        if saved:
            since = parse_sf_datetime(saved) - timedelta(minutes=self.lookback_minutes)
        best: str | None = saved
        # the delete log's own cursor rides along on every state this read saves
        extra = {k: v for k, v in (state or {}).items() if k == "deleted_cursor"}
        restarts = 0
        while True:
            try:
                for rows, last in self._pages(obj, since):
                    if last is not None and (best is None
                                             or parse_sf_datetime(last) >= parse_sf_datetime(best)):
                        best = last
                    out_state = {**extra, "cursor": best} if obj.cursor and best and rows else None
                    yield Batch(stream, records_to_table(stream, rows), state=out_state,
                                meta={"since": since.isoformat() if since else None})
                if obj.delete_log and best:
                    yield from self._deleted(stream, obj, extra.get("deleted_cursor"), best)
                return
            except InvalidQueryLocator:
                restarts += 1
                if restarts > MAX_LOCATOR_RESTARTS or not obj.cursor:
                    raise
                # resume the query where the loaded pages end (>= re-reads ties)
                since = parse_sf_datetime(best) if best else since
                log.warning("salesforce: %s query locator expired; restarting at %s",
                            obj.sobject, since)

    def _deleted(self, stream: Stream, obj: SObject, deleted_cursor: str | None, cursor: str
                 ) -> Iterator[Batch]:
        """Records hard-deleted since the last run, from the delete log (sObject Get Deleted,
        ``GET /sobjects/{sObject}/deleted/?start=&end=``): one row each, ``IsDeleted = 'true'``
        and ``SystemModstamp`` = its ``deletedDate``, every other field null (the record is
        gone); it replaces the live row of the same Id in raw. ``start`` is the previous run's
        ``latestDateCovered`` minus the lookback, ``end`` this run's wall clock (Salesforce
        answers what it covers, up to its own clock, in ``latestDateCovered``: the state kept).
        A first run has nothing to remove: it only starts the log's cursor at the newest
        ``SystemModstamp`` read. The log keeps 15 days: a run longer after the last one is told
        ``INVALID_REPLICATION_DATE``; the deletes in between are then missed (logged), and the
        cursor restarts at the newest ``SystemModstamp``."""
        if deleted_cursor is None:
            yield Batch(stream, records_to_table(stream, []),
                        state={"cursor": cursor, "deleted_cursor": cursor})
            return
        start = parse_sf_datetime(deleted_cursor) - timedelta(minutes=self.lookback_minutes)
        end = datetime.now(UTC)
        if end <= start + timedelta(minutes=1):
            return
        try:
            body = self.client.get_json(
                f"{self.client.query_path('sobjects')}/{obj.sobject}/deleted/",
                params={"start": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                        "end": end.strftime("%Y-%m-%dT%H:%M:%S+00:00")},
            )
        except FatalAPIError as exc:
            if "INVALID_REPLICATION_DATE" not in str(exc):
                raise
            log.warning("salesforce: %s deletes since %s are no longer in the delete log (%s); "
                        "members removed meanwhile stay in raw", obj.sobject, deleted_cursor, exc)
            yield Batch(stream, records_to_table(stream, []),
                        state={"cursor": cursor, "deleted_cursor": cursor})
            return
        rows = [
            {**{f: None for f in obj.fields}, "Id": str(r["id"]), "IsDeleted": "true",
             "SystemModstamp": wire_string(r.get("deletedDate"))}
            for r in body.get("deletedRecords") or []
        ]
        covered = body.get("latestDateCovered") or deleted_cursor
        yield Batch(stream, records_to_table(stream, rows),
                    state={"cursor": cursor, "deleted_cursor": covered},
                    meta={"deleted_since": start.isoformat()})

    def _pages(self, obj: SObject, since: datetime | None
               ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """``(rows, cursor value of the page's last row)`` per page."""
        headers = {"Sforce-Query-Options": f"batchSize={self.batch_size}"}
        endpoint = "queryAll" if obj.query_all else "query"
        body = self.client.get_json(self.client.query_path(endpoint),
                                    params={"q": build_soql(obj, since)}, headers=headers)
        cursors = CursorRepeats(f"salesforce: {obj.sobject} query (nextRecordsUrl)")
        while True:
            records = body.get("records") or []
            rows = [_row(obj, r) for r in records]
            last = rows[-1].get(obj.cursor) if rows and obj.cursor else None
            yield rows, last
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            # an empty page that is not done is followed; a nextRecordsUrl that repeats is the
            # same page again (it merges on Id), but a locator repeating in a loop stops the read
            next_url = body["nextRecordsUrl"]
            cursors.follow(next_url)
            body = self.client.get_json(next_url, headers=headers)


def _row(obj: SObject, record: dict[str, Any]) -> dict[str, Any]:
    return {f: wire_string(record.get(f)) for f in obj.fields}
