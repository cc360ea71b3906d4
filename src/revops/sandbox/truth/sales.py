"""Ground truth of the sales KPI marts, computed straight from the synthetic world, never through
the pipeline (no warehouse, no SQL).

Definitions follow docs/metrics.md (``marts.kpi_lead_response``, ``marts.kpi_pipeline``); each
function returns dict rows with exactly the mart's columns.

The world keeps microseconds; the CRM stores datetimes to the millisecond (HubSpot sends
``2026-06-03T14:22:05.123Z``), so every CRM timestamp is taken at millisecond precision here, the
precision the company's CRM actually holds. Durations (hours, days) come from those values.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from revops.sandbox.truth.common import TruthConfig, contact_channel, deal_person
from revops.sandbox.world import Contact, World

NONE = "(none)"


def crm_time(t: datetime | None) -> datetime | None:
    """A world timestamp as the CRM holds it: UTC, milliseconds."""
    if t is None:
        return None
    return t.astimezone(UTC).replace(microsecond=t.microsecond // 1000 * 1000)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """Continuous percentile: linear interpolation between the closest ranks (numpy's default,
    SQL's ``percentile_cont``); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = fraction * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _ratio(num, den):
    return None if not den else num / den


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def kpi_lead_response(
    world: World,
    as_of: datetime | None = None,
    cfg: TruthConfig | None = None,
    sla_hours: float = 24,
    run_at: datetime | None = None,
    owner_id_of: Callable[[Contact], str | None] | None = None,
) -> list[dict]:
    """One row per (mql_week, owner_id, team) with at least one MQL.

    ``owner_id_of``: the owner id the CRM holding the person shows (default the world's id;
    a company on two CRMs shows each person's owner under the id of the person's own CRM).

    ``as_of`` is the CRM's clock (what the sync saw, default ``world.now``); ``run_at`` the
    cut-off against which untouched MQLs are pending or missed (default: now): the instant the
    sync that read the CRM started, never the build's, so a rebuild cannot move it. It is the
    mart's ``as_of`` column.
    """
    as_of = as_of or world.now
    run_at = run_at or datetime.now(UTC)
    cfg = cfg or TruthConfig()
    tz = ZoneInfo(cfg.reporting_timezone)
    owners = {o.owner_id: o for o in world.owners}
    groups: dict[tuple[date, str, str], dict] = {}
    for c in world.contacts_as_of(as_of):
        mql_at = crm_time(c.stage_as_of("mql", as_of))
        if mql_at is None:
            continue
        touch = c.first_sales_touch_at
        touch = crm_time(touch) if touch is not None and touch <= as_of else None
        local_day = mql_at.astimezone(tz).date()
        week = local_day - timedelta(days=local_day.weekday())
        owner = owners.get(c.owner_id) if c.owner_id else None
        owner_id = (owner_id_of(c) if owner_id_of and c.owner_id else c.owner_id) or NONE
        team = (owner.team if owner else None) or NONE
        g = groups.setdefault(
            (week, owner_id, team),
            {
                "owner_name": f"{owner.first_name} {owner.last_name}" if owner else None,
                "mqls": 0,
                "hours": [],
                "within_sla": 0,
                "missed_sla": 0,
                "pending": 0,
            },
        )
        g["mqls"] += 1
        if touch is not None:
            hours = max(_hours(mql_at, touch), 0.0)  # touched before the MQL moment: 0 h
            g["hours"].append(hours)
            if hours <= sla_hours:
                g["within_sla"] += 1
            else:
                g["missed_sla"] += 1
        elif _hours(mql_at, run_at) > sla_hours:
            g["missed_sla"] += 1
        else:
            g["pending"] += 1
    out = []
    for (week, owner_id, team), g in sorted(groups.items()):
        hours = g["hours"]
        decided = g["within_sla"] + g["missed_sla"]
        out.append(
            {
                "mql_week": week,
                "owner_id": owner_id,
                "owner_name": g["owner_name"],
                "team": team,
                "mqls": g["mqls"],
                "touched": len(hours),
                "median_hours_to_first_touch": statistics.median(hours) if hours else None,
                "p90_hours_to_first_touch": percentile_cont(hours, 0.9),
                "within_sla": g["within_sla"],
                "missed_sla": g["missed_sla"],
                "pending": g["pending"],
                "share_within_sla": _ratio(g["within_sla"], decided),
                "as_of": run_at,
            }
        )
    return out


def kpi_pipeline(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """One row per (month, pipeline, channel): every month from the first deal creation month to
    the last month with a deal created or closed, for every (pipeline, channel) having a deal."""
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    tz = ZoneInfo(cfg.reporting_timezone)
    def month_of(t: datetime) -> date:
        return _month(t.astimezone(tz).date())

    deals = []
    for d in world.deals_as_of(as_of):
        contact = deal_person(world, d, as_of)
        created = crm_time(d.created_at)
        closed = crm_time(d.close_at) if d.is_closed_as_of(as_of) else None
        deals.append(
            {
                "segment": (d.pipeline or NONE, contact_channel(contact) if contact else "other"),
                "amount": d.amount,
                "is_won": d.is_won,
                "created_month": month_of(created),
                "closed_month": month_of(closed) if closed else None,
                "cycle_days": (closed - created).total_seconds() / 86400 if closed else None,
            }
        )
    if not deals:
        return []
    first = min(x["created_month"] for x in deals)
    last = max(max(x["created_month"], x["closed_month"] or x["created_month"]) for x in deals)
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    by_segment: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for x in deals:
        by_segment[x["segment"]].append(x)

    out = []
    for month in months:
        for (pipeline, channel), seg in sorted(by_segment.items()):
            created = [x for x in seg if x["created_month"] == month]
            open_end = [
                x
                for x in seg
                if x["created_month"] <= month and (x["closed_month"] is None or x["closed_month"] > month)
            ]
            closed = [x for x in seg if x["closed_month"] == month]
            won = [x for x in closed if x["is_won"]]
            lost = [x for x in closed if not x["is_won"]]
            won_amount = sum((x["amount"] for x in won), Decimal(0))
            lost_amount = sum((x["amount"] for x in lost), Decimal(0))
            win_rate = _ratio(Decimal(len(won)), len(won) + len(lost))
            avg_won = _ratio(won_amount, len(won))
            cycle = _ratio(sum(x["cycle_days"] for x in won), len(won))
            velocity = None
            if win_rate is not None and avg_won is not None and cycle:
                velocity = len(open_end) * float(win_rate) * float(avg_won) / cycle
            out.append(
                {
                    "month": month,
                    "pipeline": pipeline,
                    "channel": channel,
                    "deals_created": len(created),
                    "pipeline_created": sum((x["amount"] for x in created), Decimal(0)),
                    "open_deals_end": len(open_end),
                    "open_pipeline_end": sum((x["amount"] for x in open_end), Decimal(0)),
                    "won_deals": len(won),
                    "won_amount": won_amount,
                    "lost_deals": len(lost),
                    "lost_amount": lost_amount,
                    "win_rate": win_rate,
                    "win_rate_amount": _ratio(won_amount, won_amount + lost_amount),
                    "avg_won_amount": avg_won,
                    "avg_sales_cycle_days": cycle,
                    "pipeline_velocity": velocity,
                }
            )
    return out
