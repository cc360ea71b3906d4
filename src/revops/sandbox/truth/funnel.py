"""Ground truth of the funnel marts (``marts.kpi_funnel_monthly``, ``marts.kpi_lead_quality``,
``marts.kpi_lead_rejection_reasons``), computed straight from the synthetic world's objects,
never through the pipeline. Definitions: docs/metrics.md.

What the world shows at ``as_of`` is what the CRM shows at that clock: contacts created by then
and not merged away (``World.contacts_as_of``), stage times reached by then
(``Contact.stage_as_of``), a rejection once ``rejected_at <= as_of``. Stage times are taken at
the CRM's precision, the millisecond (HubSpot datetimes carry no finer part), so durations in
days equal the warehouse's exactly rather than to within a millisecond.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from revops.sandbox.truth.common import TruthConfig, contact_channel, month_of
from revops.sandbox.world import STAGES, Contact, World

#: campaign_id and campaign_name of contacts whose lead source is no ad campaign
NO_CAMPAIGN_ID = "(none)"
NO_CAMPAIGN_NAME = "(unattributed)"
#: rejection_reason of a rejection the CRM gives no reason for
NO_REASON = "(not given)"
#: (stage from, stage to, name) of each funnel step, in funnel order
STEPS = (
    ("lead", "mql", "lead_to_mql"),
    ("mql", "sql", "mql_to_sql"),
    ("sql", "opportunity", "sql_to_opportunity"),
    ("opportunity", "customer", "opportunity_to_customer"),
)
SECONDS_PER_DAY = 86400


def _ms(t: datetime | None) -> datetime | None:
    """A world time at the CRM's precision (milliseconds, truncated like HubSpot's wire format)."""
    return None if t is None else t.replace(microsecond=t.microsecond // 1000 * 1000)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _campaign(contact: Contact, as_of: datetime) -> tuple[str | None, str, str]:
    """(platform, campaign_id, campaign_name as of ``as_of``) of the contact's true lead-source
    campaign: KPI tables show a renamed campaign under its current name."""
    camp = contact.source_campaign
    if camp is None:
        return None, NO_CAMPAIGN_ID, NO_CAMPAIGN_NAME
    return camp.platform, camp.campaign_id, camp.name_as_of(as_of)


def _rejection(contact: Contact, as_of: datetime) -> tuple[datetime | None, str | None]:
    """(rejected_at, rejection_reason) as the CRM shows them at ``as_of``."""
    if contact.rejected_at is None or contact.rejected_at > as_of:
        return None, None
    return contact.rejected_at, contact.rejection_reason or NO_REASON


def _decision(contact: Contact, as_of: datetime) -> str:
    """accepted (reached SQL; wins over a rejection), rejected or pending, at ``as_of``."""
    if contact.stage_as_of("sql", as_of) is not None:
        return "accepted"
    if _rejection(contact, as_of)[0] is not None:
        return "rejected"
    return "pending"


def kpi_funnel_monthly(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """One row per (cohort_month, channel, campaign_id): the contacts whose lead_at falls in the
    month (reporting time zone), how many of them reached each later stage by ``as_of``, the
    stage-to-stage rates and median days. Every (channel, campaign) with a lead at all has a row
    for every month from the first to the last cohort month (zeros, NULL rates and medians)."""
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    tz = ZoneInfo(cfg.reporting_timezone)
    cohorts: dict[tuple[date, str, str], list[dict[str, datetime | None]]] = defaultdict(list)
    series: dict[tuple[str, str], tuple[str | None, str]] = {}
    for c in world.contacts_as_of(as_of):
        lead_at = c.stage_as_of("lead", as_of)
        if lead_at is None:
            continue
        platform, campaign_id, name = _campaign(c, as_of)
        channel = contact_channel(c)
        series[(channel, campaign_id)] = (platform, name)
        times = {s: _ms(c.stage_as_of(s, as_of)) for s in STAGES}
        cohorts[(month_of(times["lead"], tz), channel, campaign_id)].append(times)
    if not cohorts:
        return []
    first = min(k[0] for k in cohorts)
    last = max(k[0] for k in cohorts)
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    out = []
    for (channel, campaign_id), (platform, name) in sorted(series.items()):
        for month in months:
            members = cohorts.get((month, channel, campaign_id), [])
            reached = {s: sum(1 for m in members if m[s] is not None) for s in STAGES}
            row = {
                "cohort_month": month,
                "channel": channel,
                "platform": platform,
                "campaign_id": campaign_id,
                "campaign_name": name,
                "leads": reached["lead"],
                "mqls": reached["mql"],
                "sqls": reached["sql"],
                "opportunities": reached["opportunity"],
                "customers": reached["customer"],
            }
            medians = {}
            for a, b, step in STEPS:
                both = [m for m in members if m[a] is not None and m[b] is not None]
                row[f"{step}_rate"] = _ratio(len(both), reached[a])
                days = [(m[b] - m[a]).total_seconds() / SECONDS_PER_DAY for m in both]
                medians[f"median_days_{step}"] = _median(days)
            row.update(medians)
            out.append(row)
    return out


def _mql_cohorts(world: World, as_of: datetime, cfg: TruthConfig) -> dict[tuple[date, str, str], dict]:
    """(mql_cohort_month, channel, campaign_id) -> {platform, campaign_name, decisions, reasons}."""
    tz = ZoneInfo(cfg.reporting_timezone)
    cohorts: dict[tuple[date, str, str], dict] = {}
    for c in world.contacts_as_of(as_of):
        mql_at = c.stage_as_of("mql", as_of)
        if mql_at is None:
            continue
        platform, campaign_id, name = _campaign(c, as_of)
        key = (month_of(_ms(mql_at), tz), contact_channel(c), campaign_id)
        cohort = cohorts.setdefault(
            key, {"platform": platform, "campaign_name": name, "decisions": Counter(), "reasons": Counter()}
        )
        decision = _decision(c, as_of)
        cohort["decisions"][decision] += 1
        if decision == "rejected":
            cohort["reasons"][_rejection(c, as_of)[1]] += 1
    return cohorts


def _ranked_reasons(reasons: Counter) -> list[tuple[str, int]]:
    """Most frequent first; ties alphabetical (code point order)."""
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


def kpi_lead_quality(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """One row per (mql_cohort_month, channel, campaign_id) with at least one MQL: sales'
    decision on the cohort's MQLs as of ``as_of`` (accepted wins over rejected)."""
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    out = []
    for (month, channel, campaign_id), co in sorted(_mql_cohorts(world, as_of, cfg).items()):
        d = co["decisions"]
        mqls = sum(d.values())
        ranked = _ranked_reasons(co["reasons"])
        out.append(
            {
                "mql_cohort_month": month,
                "channel": channel,
                "platform": co["platform"],
                "campaign_id": campaign_id,
                "campaign_name": co["campaign_name"],
                "mqls": mqls,
                "accepted": d["accepted"],
                "rejected": d["rejected"],
                "pending": d["pending"],
                "rejection_rate": _ratio(d["rejected"], d["accepted"] + d["rejected"]),
                "acceptance_rate": _ratio(d["accepted"], mqls),
                "top_rejection_reason": ranked[0][0] if ranked else None,
            }
        )
    return out


def kpi_lead_rejection_reasons(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """One row per (mql_cohort_month, channel, campaign_id, rejection_reason) with a rejection."""
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    out = []
    for (month, channel, campaign_id), co in sorted(_mql_cohorts(world, as_of, cfg).items()):
        total = sum(co["reasons"].values())
        for rank, (reason, n) in enumerate(_ranked_reasons(co["reasons"]), start=1):
            out.append(
                {
                    "mql_cohort_month": month,
                    "channel": channel,
                    "platform": co["platform"],
                    "campaign_id": campaign_id,
                    "campaign_name": co["campaign_name"],
                    "rejection_reason": reason,
                    "rejected": n,
                    "share_of_rejections": n / total,
                    "reason_rank": rank,
                }
            )
    return out
