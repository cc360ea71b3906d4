"""Ground truth of ``marts.kpi_attribution``, computed straight from the synthetic world's
touches and deals, never through the pipeline.

A won deal's amount is spread over the person's marketing touches made before the deal was
created (one touch per campaign: its first response; a merged duplicate's touches are the
survivor's), by four models: first touch, last touch, linear, and U-shaped (40 % first, 40 %
last, 20 % spread evenly over the middle; one touch takes all, two take half each). Revenue
lands in the month the deal was won (reporting time zone), spend in the month of its ad day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from revops.sandbox.truth.common import (
    TruthConfig,
    deal_person,
    month_of,
    platform_channel,
    spend_reporting,
)
from revops.sandbox.truth.sales import crm_time
from revops.sandbox.world import Touch, World

MODELS = ("first_touch", "last_touch", "linear", "u_shaped")
#: (platform, campaign_id) of the row that takes what no campaign can be credited with
UNATTRIBUTED = ("(none)", "(unattributed)")


def weights(model: str, n: int) -> list[Decimal]:
    """Each touch's share of a deal under ``model``, for ``n`` touches in time order."""
    if n == 0:
        return []
    if model == "first_touch":
        return [Decimal(1)] + [Decimal(0)] * (n - 1)
    if model == "last_touch":
        return [Decimal(0)] * (n - 1) + [Decimal(1)]
    if model == "linear":
        return [Decimal(1) / n] * n
    if model == "u_shaped":
        if n <= 2:
            return [Decimal(1) / n] * n
        middle = Decimal("0.2") / (n - 2)
        return [Decimal("0.4")] + [middle] * (n - 2) + [Decimal("0.4")]
    raise ValueError(model)


def touches_before_deal(world: World, deal, as_of: datetime) -> list[Touch]:
    """The person's touches (as the CRM holds them, to the millisecond) before the deal."""
    person = deal_person(world, deal, as_of)
    if person is None:
        return []
    created = crm_time(deal.created_at)
    return [t for t in world.person_touches(person, as_of) if crm_time(t.at) < created]


def kpi_attribution(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """One row per (month, model, platform, campaign_id) where the campaign spent or was
    credited with won revenue that month; every model has the same rows."""
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    tz = ZoneInfo(cfg.reporting_timezone)
    spend: dict[tuple, Decimal] = defaultdict(Decimal)
    for platform in world.ad_platforms:
        for ad_day in world.ad_days_as_of(as_of, platform):
            key = (ad_day.day.replace(day=1), platform, ad_day.ad.campaign_id)
            spend[key] += spend_reporting(world, ad_day, as_of, cfg.reporting_currency)
    credit: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for deal in world.deals_as_of(as_of):
        if not (deal.is_won and deal.is_closed_as_of(as_of)):
            continue
        month = month_of(deal.close_at, tz)  # type: ignore[arg-type]
        # every touch names a campaign the pipeline can resolve (its id, or a name a sync saw);
        # a deal without a touch before it (or without a person) is credited to the explicit
        # unattributed row in full, so each model sums to all won revenue
        path = [(t.campaign.platform, t.campaign.campaign_id)
                for t in touches_before_deal(world, deal, as_of)] or [UNATTRIBUTED]
        for model in MODELS:
            for (platform, campaign_id), w in zip(path, weights(model, len(path)), strict=True):
                c = credit[(month, model, platform, campaign_id)]
                c[0] += w
                c[1] += w * deal.amount
    keys = {(m, model, p, cid) for (m, p, cid) in spend for model in MODELS}
    keys |= {(m, model, p, cid) for (m, _, p, cid) in credit for model in MODELS}
    rows = []
    for month, model, platform, campaign_id in sorted(keys):
        deals, revenue = credit.get((month, model, platform, campaign_id), (Decimal(0), Decimal(0)))
        cost = spend.get((month, platform, campaign_id), Decimal(0))
        unattributed = (platform, campaign_id) == UNATTRIBUTED
        rows.append({
            "month": month,
            "model": model,
            "channel": "unattributed" if unattributed else platform_channel(platform),
            "platform": platform,
            "campaign_id": campaign_id,
            "campaign_name": campaign_id if unattributed
            else world.campaign_by_id[campaign_id].name_as_of(as_of),
            "attributed_deals": deals,
            "attributed_revenue": revenue,
            "spend": cost,
            "roas": None if cost == 0 else revenue / cost,
        })
    return rows
