"""Microsoft Advertising streams as data, and the reader that yields them batch by batch.

* ``accounts``: Customer Management ``Account/Query`` (currency, the account's TimeZone enum);
* ``campaigns``: Campaign Management ``Campaigns/QueryByAccountId`` (all campaign types: the
  operation returns only Search campaigns when ``CampaignType`` is omitted);
* ``ad_performance``: the Reporting service's async ``AdPerformanceReportRequest``, daily, one
  row per ad and day, from a zipped CSV.

Everything is stored as Microsoft sent it, as strings (``"53.40"``, ``"2026-06-01"``); staging
casts. The report stream is incremental per account on ``TimePeriod`` with a lookback re-pull:
the state is the latest ``TimePeriod`` *loaded* per account, never the wall clock.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from revops.settings import Settings
from revops.sources.base import (
    Batch,
    Stream,
    date_windows,
    raw_string,
    records_to_table,
    string_schema,
    utc_now,
    utm_campaign_in,
)
from revops.sources.http import http_options
from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.microsoft_ads.client import (
    DEVELOPER_TOKEN_ENV,
    SECRET_ENV,
    InvalidReportIdError,
    MicrosoftAdsClient,
    ReportUrlExpiredError,
)

log = logging.getLogger(__name__)

SOURCE = "microsoft_ads"
API_VERSION = "v13"
#: days per report request: one report per window keeps resumes fine-grained and each file small
WINDOW_DAYS = 31
#: the zone Microsoft's report days are in ("report data is always relative to UTC")
REPORT_DAY_ZONE = UTC
#: resubmissions allowed per window (Status Error, expired download URL, expired report id)
MAX_RESUBMITS = 1

ACCOUNT_FIELDS = (
    "Id", "Name", "Number", "CurrencyCode", "TimeZone", "AccountLifeCycleStatus",
    "ParentCustomerId", "LastModifiedTime",
)
CAMPAIGN_FIELDS = (
    "Id", "AccountId", "Name", "CampaignType", "Status", "TimeZone", "BudgetType", "DailyBudget",
)
#: all campaign types: omitting CampaignType returns Search campaigns only
CAMPAIGN_TYPES = "Search Shopping DynamicSearchAds Audience Hotel PerformanceMax App"
#: report columns; ``Conversions`` has returned 0 since its 2022 deprecation: ConversionsQualified
REPORT_COLUMNS = (
    "TimePeriod", "AccountId", "CampaignId", "CampaignName", "AdGroupId", "AdGroupName", "AdId",
    "AdTitle", "CurrencyCode", "Impressions", "Clicks", "Spend", "ConversionsQualified", "Revenue",
    "FinalUrlSuffix", "TrackingTemplate",
)
#: the report stream's columns: the report's, and the utm_campaign the connector parses out of
#: the ad's URL options (:func:`utm_campaign_of`)
AD_PERFORMANCE_COLUMNS = (*REPORT_COLUMNS, "utm_campaign")


ACCOUNTS = Stream(
    source=SOURCE,
    name="accounts",
    primary_key=("Id",),
    schema=string_schema(*ACCOUNT_FIELDS),
    description="POST CustomerManagement/v13/Account/Query: currency and TimeZone enum.",
)
CAMPAIGNS = Stream(
    source=SOURCE,
    name="campaigns",
    primary_key=("Id",),
    schema=string_schema(*CAMPAIGN_FIELDS),
    description="POST CampaignManagement/v13/Campaigns/QueryByAccountId (full refresh).",
)
AD_PERFORMANCE = Stream(
    source=SOURCE,
    name="ad_performance",
    primary_key=("AdId", "TimePeriod"),
    schema=string_schema(*AD_PERFORMANCE_COLUMNS),
    cursor_field="TimePeriod",
    lookback=7,
    description="AdPerformanceReportRequest, Aggregation Daily, CSV: one row per ad and UTC day.",
)


class ReportTimeoutError(FatalAPIError):
    """The report stayed Pending longer than REVOPS_MICROSOFT_ADS_POLL_TIMEOUT_SECONDS."""


class ReportFailedError(FatalAPIError):
    """The report came back Status Error again after a resubmission."""


class MicrosoftAdsSource:
    """The Microsoft Advertising connector: ``streams`` to declare, ``read`` to pull one stream."""

    name = SOURCE

    def __init__(
        self,
        settings: Settings,
        client: MicrosoftAdsClient | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.client = client or _client_from(settings)
        #: "now" for the end of the report range; injectable so a test can pin it
        self.clock = clock
        self.sleep = sleep
        self.account_ids = [str(a) for a in settings.microsoft_ads_account_ids]
        self.customer_url = f"{settings.microsoft_ads_customer_url.rstrip('/')}/CustomerManagement/{API_VERSION}"
        self.campaign_url = f"{settings.microsoft_ads_campaign_url.rstrip('/')}/CampaignManagement/{API_VERSION}"
        self.reporting_url = f"{settings.microsoft_ads_reporting_url.rstrip('/')}/Reporting/{API_VERSION}"
        #: how many reports were submitted / resubmitted: observable in tests and ops.runs
        self.report_stats = {"submitted": 0, "resubmitted": 0, "polls": 0, "empty": 0}

    def check(self) -> str:
        """A token from the refresh token and ``Account/Query`` for each account."""
        for account_id in self.account_ids:
            self.client.post_api(f"{self.customer_url}/Account/Query", {"AccountId": int(account_id)},
                                 account_id)
        return f"{len(self.account_ids)} account(s) readable"

    @property
    def streams(self) -> list[Stream]:
        return [
            ACCOUNTS,
            CAMPAIGNS,
            dataclasses.replace(AD_PERFORMANCE, lookback=self.settings.microsoft_ads_lookback_days),
        ]

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        _require(self.settings)
        readers = {
            ACCOUNTS.name: self._read_accounts,
            CAMPAIGNS.name: self._read_campaigns,
            AD_PERFORMANCE.name: self._read_report,
        }
        yield from readers[stream.name](stream, state)

    # --- accounts and campaigns (full refresh) -------------------------------------------
    def _read_accounts(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        records = []
        for account_id in self.account_ids:
            body = self.client.post_api(
                f"{self.customer_url}/Account/Query", {"AccountId": int(account_id)}, account_id
            )
            account = body.get("Account") if isinstance(body, dict) else None
            if not isinstance(account, dict):
                raise FatalAPIError(f"microsoft_ads: Account/Query returned no Account for {account_id}")
            records.append(_flatten(account, stream))
        yield Batch(stream, records_to_table(stream, records))

    def _read_campaigns(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        for account_id in self.account_ids:
            body = self.client.post_api(
                f"{self.campaign_url}/Campaigns/QueryByAccountId",
                {"AccountId": int(account_id), "CampaignType": CAMPAIGN_TYPES},
                account_id,
            )
            campaigns = body.get("Campaigns") if isinstance(body, dict) else None
            if not isinstance(campaigns, list):
                raise FatalAPIError("microsoft_ads: Campaigns/QueryByAccountId returned no Campaigns list")
            # the campaign object has no account id: add the one we asked for
            records = [_flatten({**c, "AccountId": account_id}, stream) for c in campaigns]
            yield Batch(stream, records_to_table(stream, records), meta={"account_id": account_id})

    # --- the ad performance report (incremental on TimePeriod, with lookback) -------------
    def _read_report(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        loaded: dict[str, str] = dict((state or {}).get("accounts") or {})
        for account_id in self.account_ids:
            since, until = self._range(loaded.get(account_id), stream.lookback)
            if since > until:
                log.info("microsoft_ads: %s has nothing to read (%s > %s)", account_id, since, until)
                continue
            for w_since, w_until in date_windows(since, until, WINDOW_DAYS):
                rows = self.report_rows(account_id, w_since, w_until)
                records = [{**_clean(r, stream), "utm_campaign": utm_campaign_of(r)} for r in rows]
                days = [r["TimePeriod"] for r in records if r.get("TimePeriod")]
                if days:
                    loaded[account_id] = max([*days, loaded.get(account_id, "")])
                meta = {"account_id": account_id, "since": w_since.isoformat(), "until": w_until.isoformat()}
                yield Batch(stream, records_to_table(stream, records), state={"accounts": dict(loaded)}, meta=meta)

    def _range(self, saved: str | None, lookback: int) -> tuple[date, date]:
        """since = saved cursor minus the lookback (never before START_DATE); until = today in
        UTC, the zone report days are in."""
        since = self.settings.start_date
        if saved is not None:
            since = max(since, date.fromisoformat(saved) - timedelta(days=lookback))
        return since, self.clock().astimezone(REPORT_DAY_ZONE).date()

    def report_rows(self, account_id: str, since: date, until: date) -> list[dict[str, str]]:
        """Submit, poll, download and parse one report; resubmit once after Status Error, an
        expired download URL or an expired report id."""
        for attempt in range(MAX_RESUBMITS + 1):
            last = attempt == MAX_RESUBMITS
            request_id = self._submit(account_id, since, until)
            try:
                url = self._poll(account_id, request_id)
            except (ReportFailedError, InvalidReportIdError) as exc:
                if last:
                    raise
                log.warning("microsoft_ads: %s; submitting the report again", exc)
                self.report_stats["resubmitted"] += 1
                continue
            if url is None:  # Success without a URL: the report has no rows
                self.report_stats["empty"] += 1
                return []
            try:
                return self._download_rows(url)
            except ReportUrlExpiredError as exc:
                if last:
                    raise
                log.warning("microsoft_ads: %s; submitting the report again", exc)
                self.report_stats["resubmitted"] += 1
        raise AssertionError("unreachable")

    def _submit(self, account_id: str, since: date, until: date) -> str:
        request = {
            "ReportRequest": {
                "Type": "AdPerformanceReportRequest",
                "ReportName": f"revops ad performance {account_id} {since}..{until}",
                "Format": "Csv",
                "FormatVersion": "2.0",
                "ReturnOnlyCompleteData": False,
                "ExcludeReportHeader": False,
                "ExcludeReportFooter": False,
                "ExcludeColumnHeaders": False,
                # Daily is ignored unless TimePeriod is a column (it is: REPORT_COLUMNS[0])
                "Aggregation": "Daily",
                "Columns": list(REPORT_COLUMNS),
                "Scope": {"AccountIds": [int(account_id)]},
                "Time": {
                    "CustomDateRangeStart": _report_date(since),
                    "CustomDateRangeEnd": _report_date(until),
                },
            }
        }
        body = self.client.post_api(f"{self.reporting_url}/GenerateReport/Submit", request, account_id)
        request_id = body.get("ReportRequestId") if isinstance(body, dict) else None
        if not request_id:
            raise FatalAPIError("microsoft_ads: GenerateReport/Submit returned no ReportRequestId")
        self.report_stats["submitted"] += 1
        return str(request_id)

    def _poll(self, account_id: str, request_id: str) -> str | None:
        """Poll until Success (the URL, or None = no data); Error raises ReportFailedError;
        Pending beyond the timeout raises ReportTimeoutError. The first poll goes at once."""
        timeout = self.settings.microsoft_ads_poll_timeout_seconds
        every = self.settings.microsoft_ads_poll_seconds
        started = time.monotonic()
        while True:
            self.report_stats["polls"] += 1
            body = self.client.post_api(
                f"{self.reporting_url}/GenerateReport/Poll", {"ReportRequestId": request_id}, account_id
            )
            status = (body.get("ReportRequestStatus") or {}) if isinstance(body, dict) else {}
            state = status.get("Status")
            if state == "Success":
                return status.get("ReportDownloadUrl") or None
            if state == "Error":
                raise ReportFailedError(f"microsoft_ads: report {request_id} finished with Status Error")
            if state != "Pending":
                raise FatalAPIError(f"microsoft_ads: unexpected report status {state!r}")
            waited = time.monotonic() - started
            if waited + every > timeout:
                raise ReportTimeoutError(
                    f"microsoft_ads: report {request_id} still Pending after {waited:.0f}s; raise "
                    f"REVOPS_MICROSOFT_ADS_POLL_TIMEOUT_SECONDS (now {timeout:g}) or narrow the range"
                )
            self.sleep(every)

    def _download_rows(self, url: str) -> list[dict[str, str]]:
        """Download and parse; a truncated or inconsistent file is downloaded again."""
        retries = self.client.max_retries
        for attempt in range(retries + 1):
            data = self.client.download(url)
            try:
                return parse_report(data)
            except RetriableAPIError as exc:
                if attempt == retries:
                    raise
                log.warning("%s; downloading again", exc)
                self.client.count("retries")
        raise AssertionError("unreachable")


# --- the report file ------------------------------------------------------------------------
FOOTER_PREFIX = "@"


def parse_report(data: bytes) -> list[dict[str, str]]:
    """Rows of a downloaded report: a ZIP holding one CSV (UTF-8 with BOM, every value quoted):
    metadata lines (``"Report Name: …"`` … ``"Rows: N"``), a blank line, the header row, the
    data rows, a blank line, the ``"@2026 Microsoft Corporation. All rights reserved. "``
    footer. The header row is *found* (the number of metadata lines varies; they can be
    excluded), and the row count is checked against ``Rows: N`` when present."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise FatalAPIError(f"microsoft_ads: report archive holds {len(names)} files, expected 1")
            text = archive.read(names[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise RetriableAPIError(f"microsoft_ads: truncated or corrupt report file ({exc})") from exc
    lines = list(csv.reader(io.StringIO(text)))
    declared: int | None = None
    header_at: int | None = None
    for i, cells in enumerate(lines):
        if len(cells) == 1 and cells[0].startswith("Rows:"):
            declared = int(cells[0].split(":", 1)[1].strip() or 0)
        if "TimePeriod" in cells and "AdId" in cells:
            header_at = i
            break
    if header_at is None:
        raise RetriableAPIError("microsoft_ads: no column header row in the report file")
    header = [c.strip() for c in lines[header_at]]
    rows: list[dict[str, str]] = []
    for cells in lines[header_at + 1 :]:
        if not cells or all(not c.strip() for c in cells):
            continue  # the blank line before the footer
        if len(cells) == 1 and cells[0].startswith(FOOTER_PREFIX):
            break  # "@2026 Microsoft Corporation. All rights reserved. "
        if len(cells) != len(header):
            raise RetriableAPIError(
                f"microsoft_ads: report row has {len(cells)} values for {len(header)} columns"
            )
        rows.append(dict(zip(header, cells, strict=True)))
    if declared is not None and declared != len(rows):
        raise RetriableAPIError(f"microsoft_ads: report says Rows: {declared} but holds {len(rows)}")
    return rows


#: URL parameters that name the campaign for good (filled in at click time, reported as set)
CAMPAIGN_ID_PARAMS = frozenset({"{campaignid}"})


def utm_campaign_of(row: dict[str, Any]) -> str | None:
    """The ``utm_campaign`` an ad's clicks carry: from its ``FinalUrlSuffix`` (a query string
    without ``?``), else its ``TrackingTemplate``'s query, decoded (``+`` and ``%20`` are
    spaces); the ``{CampaignId}`` parameter (any case) is the row's ``CampaignId``. None when
    neither carries it or it is another URL parameter (``{Campaign}`` is filled in with the name
    at click time, which the report does not tell)."""
    return utm_campaign_in((row.get("FinalUrlSuffix"), row.get("TrackingTemplate")), row.get("CampaignId"),
                           CAMPAIGN_ID_PARAMS, fold_case=True)


def _report_date(day: date) -> dict[str, int]:
    return {"Day": day.day, "Month": day.month, "Year": day.year}


def _clean(row: dict[str, str], stream: Stream) -> dict[str, Any]:
    """The stream's columns as strings; an empty cell (Microsoft writes "" for none) is null."""
    return {name: (row.get(name) if row.get(name) not in ("", None) else None) for name in stream.schema.names}


def _flatten(record: dict[str, Any], stream: Stream) -> dict[str, Any]:
    """Keep the stream's columns as strings: JSON numbers as their text, nested as JSON."""
    return {name: raw_string(record.get(name)) for name in stream.schema.names}


def _require(settings: Settings) -> None:
    missing = []
    if not (settings.microsoft_ads_refresh_token and settings.microsoft_ads_refresh_token.get_secret_value()):
        missing.append(SECRET_ENV)
    if not (settings.microsoft_ads_developer_token and settings.microsoft_ads_developer_token.get_secret_value()):
        missing.append(DEVELOPER_TOKEN_ENV)
    if not settings.microsoft_ads_client_id:
        missing.append("REVOPS_MICROSOFT_ADS_CLIENT_ID")
    if missing:
        raise FatalAPIError(f"microsoft_ads: not configured; set {', '.join(missing)}")


def _client_from(settings: Settings) -> MicrosoftAdsClient:
    def secret(value: Any) -> str:
        return value.get_secret_value() if value is not None else ""

    return MicrosoftAdsClient(
        token_url=settings.microsoft_ads_token_url,
        client_id=settings.microsoft_ads_client_id or "",
        client_secret=secret(settings.microsoft_ads_client_secret) or None,
        refresh_token=secret(settings.microsoft_ads_refresh_token),
        developer_token=secret(settings.microsoft_ads_developer_token),
        customer_id=settings.microsoft_ads_customer_id,
        **http_options(settings),
    )
