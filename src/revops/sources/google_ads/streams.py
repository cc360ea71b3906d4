"""Google Ads streams as data, and the reader that yields them batch by batch.

Every stream is one GAQL query sent to ``googleAds:searchStream`` per customer. Rows arrive
nested and camelCase (``{"metrics": {"costMicros": "12500000"}}``); we flatten them to one
string column per selected field, named after the GAQL field with dots as underscores
(``metrics.cost_micros`` -> ``metrics_cost_micros``). Values stay as Google sent them: int64 as
the decimal string it was, doubles as their shortest text, enums as names. **Omitted fields
stay null**: Google omits zero and default values, so a null ``metrics_clicks`` means 0 and
staging says so with ``coalesce``.

``ad_group_ad_daily`` is incremental per customer on ``segments.date`` (the customer's own time
zone) with a lookback re-pull: conversions are dated to the click and keep arriving, and recent
days are restated. The state is the latest ``segments.date`` *loaded* per customer, never the
wall clock.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from revops.settings import Settings
from revops.sources.base import Batch, Stream, date_windows, records_to_table, utc_now, utm_campaign_in
from revops.sources.http import http_options
from revops.sources.errors import FatalAPIError
from revops.sources.google_ads.client import CUSTOMERS_ENV, SECRET_ENV, GoogleAdsClient

log = logging.getLogger(__name__)

SOURCE = "google_ads"
#: days per ad_group_ad query: Airbyte slices 14 days; small windows keep resumes fine-grained
WINDOW_DAYS = 14

CUSTOMER_FIELDS = (
    "customer.id", "customer.descriptive_name", "customer.currency_code", "customer.time_zone",
)
CAMPAIGN_FIELDS = (
    "customer.id", "campaign.id", "campaign.name", "campaign.status",
    "campaign.advertising_channel_type",
)
AD_DAILY_FIELDS = (
    "customer.id", "customer.currency_code", "campaign.id", "campaign.name", "ad_group.id",
    "ad_group.name", "ad_group_ad.ad.id", "ad_group_ad.ad.name", "segments.date",
    "metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions",
    "metrics.conversions_value",
)

#: the URL options that carry an ad's tracking parameters: the ad's own final URL suffix and
#: tracking template, and its campaign's (a lower level's suffix overrides a higher one's)
URL_TAG_FIELDS = (
    "customer.id", "campaign.id", "ad_group.id", "ad_group_ad.ad.id",
    "ad_group_ad.ad.final_url_suffix", "ad_group_ad.ad.tracking_url_template",
    "campaign.final_url_suffix", "campaign.tracking_url_template",
)


def column(field: str) -> str:
    """``ad_group_ad.ad.id`` -> ``ad_group_ad_ad_id``."""
    return field.replace(".", "_")


def _schema(fields: tuple[str, ...]) -> pa.Schema:
    return pa.schema([pa.field(column(f), pa.string()) for f in fields])


CUSTOMERS = Stream(
    source=SOURCE,
    name="customers",
    primary_key=("customer_id",),
    schema=_schema(CUSTOMER_FIELDS),
    description="FROM customer: currency and time zone (the day boundary of segments.date).",
)
CAMPAIGNS = Stream(
    source=SOURCE,
    name="campaigns",
    primary_key=("campaign_id",),
    schema=_schema(CAMPAIGN_FIELDS),
    description="FROM campaign, REMOVED ones included: current names (full refresh).",
)
AD_URL_TAGS = Stream(
    source=SOURCE,
    name="ad_url_tags",
    primary_key=("ad_group_id", "ad_group_ad_ad_id"),
    schema=_schema(URL_TAG_FIELDS).append(pa.field("utm_campaign", pa.string())),
    description="FROM ad_group_ad, no metrics: each ad's final URL suffix / tracking template and "
                "the utm_campaign they carry (full refresh).",
)
AD_GROUP_AD_DAILY = Stream(
    source=SOURCE,
    name="ad_group_ad_daily",
    # an ad_group_ad is customers/{c}/adGroupAds/{ad_group_id}~{ad_id}: both ids name the row
    primary_key=("ad_group_id", "ad_group_ad_ad_id", "segments_date"),
    schema=_schema(AD_DAILY_FIELDS),
    cursor_field="segments_date",
    lookback=14,
    description="FROM ad_group_ad by segments.date: spend and delivery per ad and customer-local day.",
)


def gaql(fields: tuple[str, ...], resource: str, since: date | None = None, until: date | None = None) -> str:
    query = f"SELECT {', '.join(fields)} FROM {resource}"
    if since is not None and until is not None:
        query += f" WHERE segments.date BETWEEN '{since.isoformat()}' AND '{until.isoformat()}'"
    return query


class GoogleAdsSource:
    """The Google Ads connector: ``streams`` to declare, ``read`` to pull one stream."""

    name = SOURCE

    def __init__(
        self,
        settings: Settings,
        client: GoogleAdsClient | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.settings = settings
        self.client = client or _client_from(settings)
        #: "now" for the end of the date range; injectable so a test can pin it
        self.clock = clock
        self.customer_ids = [c.replace("-", "").strip() for c in settings.google_ads_customer_ids]
        self._customers: dict[str, dict[str, Any]] = {}

    def check(self) -> str:
        """A token from the refresh token and ``FROM customer`` (one row) for each customer."""
        names = [self.customer(c).get("customer_descriptive_name") or c for c in self.customer_ids]
        return f"{len(names)} customer(s) readable: {', '.join(map(str, names))}"

    @property
    def streams(self) -> list[Stream]:
        return [
            CUSTOMERS,
            CAMPAIGNS,
            AD_URL_TAGS,
            dataclasses.replace(AD_GROUP_AD_DAILY, lookback=self.settings.google_ads_lookback_days),
        ]

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        token = self.settings.google_ads_refresh_token
        if token is None or not token.get_secret_value():
            raise FatalAPIError(f"google_ads: no refresh token; set {SECRET_ENV}")
        for customer_id in self.customer_ids:
            if not re.fullmatch(r"\d{10}", customer_id):
                raise FatalAPIError(
                    f"google_ads: customer id {customer_id!r} is not 10 digits; fix {CUSTOMERS_ENV}"
                )
        readers = {
            CUSTOMERS.name: self._read_customers,
            CAMPAIGNS.name: self._read_campaigns,
            AD_URL_TAGS.name: self._read_url_tags,
            AD_GROUP_AD_DAILY.name: self._read_ad_daily,
        }
        yield from readers[stream.name](stream, state)

    # --- customers and campaigns (full refresh) --------------------------------------------
    def customer(self, customer_id: str) -> dict[str, Any]:
        """The customer row, fetched once per run: the daily stream needs its time zone."""
        if customer_id not in self._customers:
            rows = self.client.search_stream(customer_id, gaql(CUSTOMER_FIELDS, "customer"))
            if len(rows) != 1:
                raise FatalAPIError(f"google_ads: FROM customer gave {len(rows)} rows for {customer_id}")
            self._customers[customer_id] = flatten(rows[0], CUSTOMER_FIELDS)
        return self._customers[customer_id]

    def _read_customers(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        records = [self.customer(c) for c in self.customer_ids]
        yield Batch(stream, records_to_table(stream, records))

    def _read_campaigns(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        for customer_id in self.customer_ids:
            rows = self.client.search_stream(customer_id, gaql(CAMPAIGN_FIELDS, "campaign"))
            records = [flatten(r, CAMPAIGN_FIELDS) for r in rows]
            yield Batch(stream, records_to_table(stream, records), meta={"customer_id": customer_id})

    def _read_url_tags(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Every ad's URL options (an entity listing: no metrics, no date, every ad)."""
        for customer_id in self.customer_ids:
            rows = self.client.search_stream(customer_id, gaql(URL_TAG_FIELDS, "ad_group_ad"))
            records = []
            for r in rows:
                rec = flatten(r, URL_TAG_FIELDS)
                rec["utm_campaign"] = utm_campaign_of(rec)
                records.append(rec)
            yield Batch(stream, records_to_table(stream, records), meta={"customer_id": customer_id})

    # --- ad_group_ad by day (incremental on segments.date, with lookback) --------------------
    def _read_ad_daily(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        loaded: dict[str, str] = dict((state or {}).get("customers") or {})
        for customer_id in self.customer_ids:
            since, until = self._range(customer_id, loaded.get(customer_id), stream.lookback)
            if since > until:
                log.info("google_ads: %s has nothing to read (%s > %s)", customer_id, since, until)
                continue
            for w_since, w_until in date_windows(since, until, WINDOW_DAYS):
                query = gaql(AD_DAILY_FIELDS, "ad_group_ad", w_since, w_until)
                rows = self.client.search_stream(customer_id, query)
                records = [flatten(r, AD_DAILY_FIELDS) for r in rows]
                days = [r["segments_date"] for r in records if r.get("segments_date")]
                if days:
                    loaded[customer_id] = max([*days, loaded.get(customer_id, "")])
                yield Batch(
                    stream,
                    records_to_table(stream, records),
                    state={"customers": dict(loaded)},
                    meta={"customer_id": customer_id, "since": w_since.isoformat(), "until": w_until.isoformat()},
                )

    def _range(self, customer_id: str, saved: str | None, lookback: int) -> tuple[date, date]:
        """since = saved cursor minus the lookback (never before start_date); until = today in
        the customer's time zone, the zone ``segments.date`` is in (it cannot be overridden)."""
        since = self.settings.start_date
        if saved is not None:
            since = max(since, date.fromisoformat(saved) - timedelta(days=lookback))
        tz = ZoneInfo(str(self.customer(customer_id)["customer_time_zone"]))
        return since, self.clock().astimezone(tz).date()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@functools.cache
def _paths(fields: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each GAQL field's column and its camelCase path in a result row, worked out once per
    field list, not once per row (per row it was a tenth of the ad stream's reading)."""
    return tuple((column(f), tuple(_camel(p) for p in f.split("."))) for f in fields)


def flatten(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A nested camelCase result row as ``{column: string or None}`` for the GAQL ``fields``.

    A field Google omitted (zero, empty, default) is None; numbers keep their text (JSON
    doubles as Python's shortest round-trip form, so ``1.5`` stays ``"1.5"``)."""
    out: dict[str, Any] = {}
    for name, path in _paths(fields):
        value: Any = row
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or isinstance(value, dict | list):
            out[name] = None
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


#: ValueTrack parameters that name the campaign for good (filled in at click time, returned as set)
CAMPAIGN_ID_PARAMS = frozenset({"{campaignid}", "{_campaignid}"})


def utm_campaign_of(rec: dict[str, Any]) -> str | None:
    """The ``utm_campaign`` an ad's clicks carry. Each URL option set at a lower level replaces
    the higher level's (the ad's final URL suffix replaces its campaign's, not merged; likewise
    the tracking template), so: the effective final URL suffix's utm_campaign, else the effective
    tracking template's (in its query), decoded (``+`` and ``%20`` are spaces); ``{campaignid}``
    is the ad's campaign id. None when neither carries it or it is another ValueTrack parameter."""
    suffix = rec.get("ad_group_ad_ad_final_url_suffix") or rec.get("campaign_final_url_suffix")
    template = rec.get("ad_group_ad_ad_tracking_url_template") or rec.get("campaign_tracking_url_template")
    return utm_campaign_in((suffix, template), rec.get("campaign_id"), CAMPAIGN_ID_PARAMS)


def _client_from(settings: Settings) -> GoogleAdsClient:
    def secret(value: Any) -> str:
        return value.get_secret_value() if value is not None else ""

    return GoogleAdsClient(
        settings.google_ads_base_url,
        api_version=settings.google_ads_api_version,
        token_url=settings.google_ads_token_url,
        client_id=settings.google_ads_client_id or "",
        client_secret=secret(settings.google_ads_client_secret),
        refresh_token=secret(settings.google_ads_refresh_token),
        developer_token=secret(settings.google_ads_developer_token) or None,
        login_customer_id=settings.google_ads_login_customer_id,
        **http_options(settings),
    )
