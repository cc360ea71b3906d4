"""Whose day is it? Pinned at a day boundary: each ad platform reports the day of its own
zone (Meta and Google Ads: the account's; LinkedIn and Microsoft: UTC), while the CRM side of
the marts is bucketed in the reporting time zone. Real connectors against the sandboxes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.registry import get_spec

WORLD = World(WorldConfig(seed=3, days=8, platforms=("meta", "linkedin")))


def _last_day_per_account(source, stream_name: str, day_field: str, account_field: str) -> dict[str, str]:
    stream = next(s for s in source.streams if s.name == stream_name)
    last: dict[str, str] = {}
    for batch in source.read(stream, None):
        for rec in batch.records.to_pylist():
            acct = rec[account_field].rsplit(":", 1)[-1]
            last[acct] = max(last.get(acct, ""), rec[day_field])
    return last


def test_at_03_utc_each_platform_is_on_its_own_day():
    """At 03:00 UTC on day D: UTC (LinkedIn) and Berlin (Meta EU) are on D, Los Angeles (Meta US)
    is still on D-1. The newest row each connector gets is that zone's today, not ours."""
    day = WORLD.start + timedelta(days=4)
    clock = datetime.combine(day, time(3), tzinfo=UTC)
    assert clock.astimezone(ZoneInfo("America/Los_Angeles")).date() == day - timedelta(days=1)
    with sandboxes(WORLD, as_of=clock) as sb:
        settings = sb.settings(http_max_backoff_seconds=0.02)
        meta = _last_day_per_account(get_spec("meta").build(settings), "ads_insights", "date_start", "account_id")
        linkedin = _last_day_per_account(
            get_spec("linkedin").build(settings), "ad_analytics", "date_start", "account_urn"
        )
    assert meta == {"1001": (day - timedelta(days=1)).isoformat(), "1002": day.isoformat()}
    assert linkedin == {"508123456": day.isoformat()}


def test_crm_side_counts_in_the_reporting_time_zone(built_warehouse):
    """A lead created at 02:00 UTC on D is a New York lead of D-1: the mart counts it there."""
    world = built_warehouse["world"]
    tz = ZoneInfo(built_warehouse["settings"].reporting_timezone)
    ny: Counter = Counter()
    utc: Counter = Counter()
    boundary = []
    for c in world.contacts_as_of(world.now):
        lead_at = c.stage_as_of("lead", world.now)
        if lead_at is None or c.source_campaign is None:
            continue
        key = c.source_campaign.campaign_id
        ny[(lead_at.astimezone(tz).date(), key)] += 1
        utc[(lead_at.astimezone(UTC).date(), key)] += 1
        if lead_at.astimezone(tz).date() != lead_at.astimezone(UTC).date():
            boundary.append((lead_at.astimezone(tz).date(), key))
    # a (day, campaign) where the two conventions disagree, so the check can tell them apart
    pick = next(k for k in boundary if ny[k] != utc[k])
    with Warehouse(built_warehouse["url"]) as wh:
        got = wh.scalar(
            "select leads from marts.kpi_channel_daily"
            f" where date_day = '{pick[0].isoformat()}' and campaign_id = '{pick[1]}'"
        )
    assert got == ny[pick] != utc[pick]
