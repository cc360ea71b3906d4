"""Meta streams as data, and the reader that yields them batch by batch.

Everything is stored as Meta sent it (decimal strings stay strings; ``actions`` stays JSON):
staging casts, so a type surprise shows up in one SQL file rather than as lost rows here.

``ads_insights`` is incremental on ``date_start`` with a lookback re-pull, because Meta restates
recent days (Airbyte re-reads 28 days, Meta "freezes insight data 28 days after it was
generated"). The state is the latest ``date_start`` *loaded* per account, never the wall clock:
a server whose clock is behind ours must not make us skip days.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.compute as pc

from revops.settings import Settings
from revops.sources.base import (
    NEW_FIELDS,
    Batch,
    Stream,
    date_windows,
    new_fields,
    raw_string,
    records_to_table,
    string_schema,
    string_table,
    utc_now,
    utm_campaign_in,
)
from revops.sources.http import http_options
from revops.sources.errors import FatalAPIError
from revops.sources.meta.client import SECRET_ENV, MetaClient

log = logging.getLogger(__name__)

SOURCE = "meta"
#: days per insights request: small windows keep each report cheap and make resumes fine-grained
WINDOW_DAYS = 7


ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "account_status")
CAMPAIGN_FIELDS = (
    "id", "account_id", "name", "objective", "status", "effective_status", "created_time",
    "updated_time",
)
INSIGHT_FIELDS = (
    "account_id", "account_currency", "campaign_id", "campaign_name", "adset_id", "adset_name",
    "ad_id", "ad_name", "spend", "impressions", "clicks", "actions", "action_values",
)
#: insights columns: the requested fields plus the day Meta always adds
INSIGHT_COLUMNS = (*INSIGHT_FIELDS[:8], "date_start", "date_stop", *INSIGHT_FIELDS[8:])
AD_FIELDS = ("id", "account_id", "campaign_id", "adset_id", "name", "effective_status")
#: the ad's creative, expanded in the same request (Graph field expansion)
AD_REQUEST_FIELDS = (*AD_FIELDS, "creative{id,url_tags}")
#: the ads stream's columns: the ad's fields, its creative's, and the utm_campaign the
#: connector parses out of ``url_tags`` (see :func:`utm_campaign_of`)
AD_COLUMNS = (*AD_FIELDS, "creative_id", "url_tags", "utm_campaign")
#: fields that arrive as JSON arrays; stored re-serialised so staging can pick one action type
JSON_FIELDS = frozenset({"actions", "action_values"})

AD_ACCOUNTS = Stream(
    source=SOURCE,
    name="ad_accounts",
    primary_key=("account_id",),
    schema=string_schema(*ACCOUNT_FIELDS),
    description="GET /act_{id}: currency and time zone (the account's day boundary).",
)
CAMPAIGNS = Stream(
    source=SOURCE,
    name="campaigns",
    primary_key=("id",),
    schema=string_schema(*CAMPAIGN_FIELDS),
    description="GET /act_{id}/campaigns: names resolve CRM lead sources (full refresh).",
)
ADS = Stream(
    source=SOURCE,
    name="ads",
    primary_key=("id",),
    schema=string_schema(*AD_COLUMNS),
    description="GET /act_{id}/ads with creative{url_tags}: the utm_campaign each ad's URLs carry (full refresh).",
)
ADS_INSIGHTS = Stream(
    source=SOURCE,
    name="ads_insights",
    primary_key=("ad_id", "date_start"),
    schema=string_schema(*INSIGHT_COLUMNS),
    cursor_field="date_start",
    lookback=28,
    description="GET /act_{id}/insights level=ad, daily, in the account's time zone.",
)


class MetaSource:
    """The Meta connector: ``streams`` to declare, ``read`` to pull one stream."""

    name = SOURCE

    def __init__(
        self,
        settings: Settings,
        client: MetaClient | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.settings = settings
        self.client = client or _client_from(settings)
        #: "now" for the end of the insights range; injectable so a test can pin it
        self.clock = clock
        self.account_ids = [a.removeprefix("act_") for a in settings.meta_account_ids]
        self._accounts: dict[str, dict[str, Any]] = {}

    def check(self) -> str:
        """``GET /act_<id>?fields=id,name`` for each ad account: the token reads them."""
        names = [self.client.get_object(self.client.path(f"act_{a}"), ["id", "name"]).get("name")
                 for a in self.account_ids]
        return f"{len(names)} ad account(s) readable: {', '.join(map(str, names))}"

    @property
    def streams(self) -> list[Stream]:
        return [
            AD_ACCOUNTS,
            CAMPAIGNS,
            ADS,
            dataclasses.replace(ADS_INSIGHTS, lookback=self.settings.meta_lookback_days),
        ]

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        token = self.settings.meta_access_token
        if token is None or not token.get_secret_value():
            raise FatalAPIError(f"meta: no access token; set {SECRET_ENV}")
        readers = {
            AD_ACCOUNTS.name: self._read_accounts,
            CAMPAIGNS.name: self._read_campaigns,
            ADS.name: self._read_ads,
            ADS_INSIGHTS.name: self._read_insights,
        }
        yield from readers[stream.name](stream, state)

    # --- accounts and campaigns (full refresh) -------------------------------------------
    def account(self, account_id: str) -> dict[str, Any]:
        """The account object, fetched once per run: insights need its time zone."""
        if account_id not in self._accounts:
            self._accounts[account_id] = self.client.get_object(
                self.client.path(f"act_{account_id}"), list(ACCOUNT_FIELDS)
            )
        return self._accounts[account_id]

    def _read_accounts(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        yield Batch(stream, string_table(stream, [self.account(a) for a in self.account_ids], JSON_FIELDS))

    def _read_campaigns(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        for account_id in self.account_ids:
            params = {"fields": ",".join(CAMPAIGN_FIELDS), "limit": self.settings.meta_page_size}
            path = self.client.path(f"act_{account_id}", "campaigns")
            for page in self.client.iter_pages(path, params):
                yield Batch(stream, string_table(stream, page.data, JSON_FIELDS), meta={"account_id": account_id})

    def _read_ads(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Every ad with its creative's ``url_tags`` (ads are few: full refresh)."""
        for account_id in self.account_ids:
            params = {"fields": ",".join(AD_REQUEST_FIELDS), "limit": self.settings.meta_page_size}
            path = self.client.path(f"act_{account_id}", "ads")
            for page in self.client.iter_pages(path, params):
                records = [_ad_record(r, stream) for r in page.data]
                yield Batch(stream, records_to_table(stream, records), meta={"account_id": account_id})

    # --- insights (incremental on date_start, with lookback) -----------------------------
    def _read_insights(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        loaded: dict[str, str] = dict((state or {}).get("accounts") or {})
        for account_id in self.account_ids:
            since, until = self._range(account_id, loaded.get(account_id), stream.lookback)
            if since > until:
                log.info("meta: act_%s has nothing to read (%s > %s)", account_id, since, until)
                continue
            for w_since, w_until in date_windows(since, until, WINDOW_DAYS):
                yield from self._read_window(stream, account_id, w_since, w_until, loaded)

    def _range(self, account_id: str, saved: str | None, lookback: int) -> tuple[date, date]:
        """since = saved cursor minus the lookback (never before start_date); until = today in
        the account's zone, the zone Meta reports days in (asking UTC's today can be a future
        day for accounts west of UTC, and miss it for accounts east of it)."""
        since = self.settings.start_date
        if saved is not None:
            since = max(since, date.fromisoformat(saved) - timedelta(days=lookback))
        tz = ZoneInfo(str(self.account(account_id)["timezone_name"]))
        return since, self.clock().astimezone(tz).date()

    def _read_window(
        self, stream: Stream, account_id: str, since: date, until: date, loaded: dict[str, str]
    ) -> Iterator[Batch]:
        params = {
            "level": "ad",
            "time_increment": "1",
            "time_range": json.dumps(
                {"since": since.isoformat(), "until": until.isoformat()}, separators=(",", ":")
            ),
            "fields": ",".join(INSIGHT_FIELDS),
            "limit": self.settings.meta_page_size,
        }
        path = self.client.path(f"act_{account_id}", "insights")
        for page in self.client.iter_pages(path, params):
            table = string_table(stream, page.data, JSON_FIELDS)
            day = pc.max(table["date_start"]).as_py()
            if day:
                loaded[account_id] = max(day, loaded.get(account_id, ""))
            state = {"accounts": dict(loaded)} if page.is_last else None
            yield Batch(stream, table, state=state, meta=_window_meta(account_id, since, until))


def _window_meta(account_id: str, since: date, until: date) -> dict[str, str]:
    return {"account_id": account_id, "since": since.isoformat(), "until": until.isoformat()}


def _flatten(record: dict[str, Any], stream: Stream) -> dict[str, Any]:
    """An ad's row (see :func:`_ad_record`), the stream's columns as strings: scalars as Meta
    wrote them, arrays as JSON; a field the stream does not declare (schema drift) rides along
    as a new column. The other streams build their tables column by column (``string_table``)."""
    out: dict[str, Any] = {}
    for name in stream.schema.names:
        value = record.get(name)
        out[name] = json.dumps(value) if value is not None and name in JSON_FIELDS else raw_string(value)
    # every request names its fields: anything else Meta sends is a new field, kept as a column
    out[NEW_FIELDS] = new_fields(record, stream)
    return out


def _ad_record(record: dict[str, Any], stream: Stream) -> dict[str, Any]:
    """An ad as a row: its fields, its creative's id and ``url_tags``, and the utm_campaign."""
    creative = record.get("creative") or {}
    flat = {**{k: v for k, v in record.items() if k != "creative"},
            "creative_id": creative.get("id"), "url_tags": creative.get("url_tags")}
    out = _flatten(flat, stream)
    out["utm_campaign"] = utm_campaign_of(creative.get("url_tags"), record.get("campaign_id"))
    out[NEW_FIELDS].pop("utm_campaign", None)
    return out


#: Meta's URL-tag macros for the campaign, expanded when the ad is shown, returned unexpanded by
#: the API: the only one that names the campaign for good is its id (a name macro is filled in
#: with the name at publication, which the API does not tell)
CAMPAIGN_ID_MACRO = "{{campaign.id}}"


def utm_campaign_of(url_tags: str | None, campaign_id: str | None) -> str | None:
    """The ``utm_campaign`` value of a creative's ``url_tags`` (``key=value`` pairs joined by
    ``&``, values percent-encoded), decoded; ``{{campaign.id}}`` is the ad's own campaign id.
    None without such a tag, or when it is another macro (``{{campaign.name}}``)."""
    return utm_campaign_in((url_tags,), campaign_id, {CAMPAIGN_ID_MACRO})


def _client_from(settings: Settings) -> MetaClient:
    token = settings.meta_access_token.get_secret_value() if settings.meta_access_token else ""
    return MetaClient(
        settings.meta_base_url,
        token,
        api_version=settings.meta_api_version,
        **http_options(settings),
    )
