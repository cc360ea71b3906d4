"""Ground truth of the marts both departments share (``marts.kpi_channel_daily``,
``marts.kpi_targets_vs_actual``, ``marts.kpi_attribution_coverage``,
``marts.kpi_scorecard_monthly``) and the demo's summary, computed straight from the synthetic
world, never through the pipeline. Definitions follow docs/metrics.md (the contract with both
departments).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from revops.sandbox.truth.common import (
    SEEDS,
    TruthConfig,
    campaign_aliases,
    contact_channel,
    deal_person,
    month_of,
    norm as _norm,
    platform_channel,
    spend_reporting,
)
from revops.sandbox.world import World

#: (platform, campaign_id) of the rows that take what no campaign can be credited with
UNATTRIBUTED = ("(none)", "(unattributed)")


def _ratio(num: Decimal, den: int) -> Decimal | None:
    return None if den == 0 else num / den


def kpi_channel_daily(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """One row per (date_day, platform, campaign_id, channel) with spend or funnel activity.

    Spend is on the ad account's local day; leads/MQLs/SQLs on the reporting-time-zone day of
    the contact's stage entry, for contacts whose source resolves to the campaign. Everyone
    else (organic contacts: every paid one names a campaign a sync saw) counts on the row
    ``UNATTRIBUTED`` of their channel, with their deals; a deal without a person on that row
    of channel ``other``.
    """
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    tz = ZoneInfo(cfg.reporting_timezone)
    rows: dict[tuple[date, str, str, str | None], dict] = defaultdict(
        lambda: {
            "spend": Decimal(0),
            "impressions": 0,
            "clicks": 0,
            "leads": 0,
            "mqls": 0,
            "sqls": 0,
            "opportunities": 0,
            "customers": 0,
            "pipeline_created": Decimal(0),
            "revenue_won": Decimal(0),
        }
    )
    for platform in world.ad_platforms:
        for ad_day in world.ad_days_as_of(as_of, platform):
            ad = ad_day.ad
            r = rows[(ad_day.day, platform, ad.campaign_id, None)]
            r["spend"] += spend_reporting(world, ad_day, as_of, cfg.reporting_currency)
            r["impressions"] += ad_day.impressions
            r["clicks"] += ad_day.clicks
    def source(person) -> tuple[str, str, str | None]:
        """(platform, campaign_id, channel of an unattributed row) a person counts for."""
        if person is None:
            return (*UNATTRIBUTED, "other")
        if person.source_campaign is None:
            return (*UNATTRIBUTED, contact_channel(person))
        return person.source_campaign.platform, person.source_campaign.campaign_id, None

    for c in world.contacts_as_of(as_of):
        key = source(c)
        for stage, col in (("lead", "leads"), ("mql", "mqls"), ("sql", "sqls"),
                           ("opportunity", "opportunities"), ("customer", "customers")):
            t = c.stage_as_of(stage, as_of)
            if t is not None:
                rows[(t.astimezone(tz).date(), *key)][col] += 1
    for deal in world.deals_as_of(as_of):
        key = source(deal_person(world, deal, as_of))
        day = deal.created_at.astimezone(tz).date()
        rows[(day, *key)]["pipeline_created"] += deal.amount
        if deal.is_won and deal.is_closed_as_of(as_of):
            won_day = deal.close_at.astimezone(tz).date()  # type: ignore[union-attr]
            rows[(won_day, *key)]["revenue_won"] += deal.amount
    out = []
    for (day, platform, campaign_id, channel), r in sorted(rows.items(), key=lambda kv: (
            kv[0][0], kv[0][1], kv[0][2], kv[0][3] or "")):
        out.append(
            {
                "date_day": day,
                "platform": platform,
                "channel": channel or platform_channel(platform),
                "campaign_id": campaign_id,
                "campaign_name": campaign_id if channel
                else world.campaign_by_id[campaign_id].name_as_of(as_of),
                **r,
                "cpl": _ratio(r["spend"], r["leads"]),
                "cost_per_mql": _ratio(r["spend"], r["mqls"]),
                "cost_per_sql": _ratio(r["spend"], r["sqls"]),
                "cac": _ratio(r["spend"], r["customers"]),
                "roas": None if r["spend"] == 0 else r["revenue_won"] / r["spend"],
            }
        )
    return out


def summary(world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None) -> dict:
    rows = kpi_channel_daily(world, as_of, cfg)
    spend = sum((r["spend"] for r in rows), Decimal(0))
    leads = sum(r["leads"] for r in rows)
    return {
        "rows": len(rows),
        "spend": spend,
        "leads": leads,
        "mqls": sum(r["mqls"] for r in rows),
        "sqls": sum(r["sqls"] for r in rows),
        "cpl": _ratio(spend, leads),
    }


def targets(path: Path = SEEDS / "targets.csv") -> dict[tuple[date, str, str], Decimal]:
    with path.open() as fh:
        return {
            (date.fromisoformat(r["month"]), r["channel"], r["metric"]): Decimal(r["target"])
            for r in csv.DictReader(fh)
        }


def kpi_targets_vs_actual(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """Targets (configuration) against what happened, by month, channel and metric."""
    as_of = as_of or world.now
    tz = ZoneInfo((cfg or TruthConfig()).reporting_timezone)
    actual: dict[tuple[date, str, str], Decimal] = defaultdict(Decimal)
    for c in world.contacts_as_of(as_of):
        for stage, metric in (("mql", "mqls"), ("sql", "sqls")):
            t = c.stage_as_of(stage, as_of)
            if t is not None:
                actual[(month_of(t, tz), contact_channel(c), metric)] += 1
    for d in world.deals_as_of(as_of):
        person = deal_person(world, d, as_of)
        channel = contact_channel(person) if person is not None else "other"
        actual[(month_of(d.created_at, tz), channel, "pipeline")] += d.amount
        if d.is_won and d.is_closed_as_of(as_of):
            actual[(month_of(d.close_at, tz), channel, "revenue")] += d.amount  # type: ignore[arg-type]
    goal = targets()
    rows = []
    for key in sorted(set(goal) | set(actual)):
        target = goal.get(key)
        value = actual.get(key, Decimal(0))
        rows.append({
            "month": key[0], "channel": key[1], "metric": key[2], "target": target, "actual": value,
            "attainment": None if not target else value / target,
        })
    return rows


def kpi_attribution_coverage(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """Share of leads whose source is a known ad campaign, by lead month and channel."""
    as_of = as_of or world.now
    tz = ZoneInfo((cfg or TruthConfig()).reporting_timezone)
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in world.contacts_as_of(as_of):
        t = c.stage_as_of("lead", as_of)
        if t is None:
            continue
        n = counts[(month_of(t, tz), contact_channel(c))]
        n[0] += 1
        n[1] += c.source_campaign is not None
    return [
        {"month": m, "channel": ch, "leads": n, "attributed_leads": a, "coverage": Decimal(a) / n}
        for (m, ch), (n, a) in sorted(counts.items())
    ]


SCORECARD_COUNTS = ("leads", "paid_leads", "mqls", "sqls", "opportunities", "customers", "won_deals", "lost_deals")
SCORECARD_MONEY = ("spend", "pipeline_created", "revenue_won")
SCORECARD_RATES = ("cost_per_paid_lead", "mql_to_sql_rate", "win_rate", "cac", "roas")


def kpi_scorecard_monthly(
    world: World, as_of: datetime | None = None, cfg: TruthConfig | None = None
) -> list[dict]:
    """Both departments' headline numbers per month, with the change from the month before."""
    as_of = as_of or world.now
    cfg = cfg or TruthConfig()
    tz = ZoneInfo(cfg.reporting_timezone)
    totals: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for platform in world.ad_platforms:
        for ad_day in world.ad_days_as_of(as_of, platform):
            month = ad_day.day.replace(day=1)
            totals[month]["spend"] += spend_reporting(world, ad_day, as_of, cfg.reporting_currency)
    for c in world.contacts_as_of(as_of):
        for stage, col in (("lead", "leads"), ("mql", "mqls"), ("sql", "sqls"),
                           ("opportunity", "opportunities"), ("customer", "customers")):
            t = c.stage_as_of(stage, as_of)
            if t is not None:
                totals[month_of(t, tz)][col] += 1
                if stage == "lead" and c.source_campaign is not None:
                    totals[month_of(t, tz)]["paid_leads"] += 1
    for d in world.deals_as_of(as_of):
        totals[month_of(d.created_at, tz)]["pipeline_created"] += d.amount
        if d.is_closed_as_of(as_of):
            m = month_of(d.close_at, tz)  # type: ignore[arg-type]
            totals[m]["won_deals" if d.is_won else "lost_deals"] += 1
            if d.is_won:
                totals[m]["revenue_won"] += d.amount
    months = []
    m, last = min(totals), max(totals)
    while m <= last:
        months.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    rows: list[dict] = []
    prev: dict | None = None
    for month in months:
        t = totals.get(month, {})
        row: dict = {"month": month}
        for col in SCORECARD_COUNTS:
            row[col] = int(t.get(col, 0))
        for col in SCORECARD_MONEY:
            row[col] = t.get(col, Decimal(0))
        row["cost_per_paid_lead"] = _ratio(row["spend"], row["paid_leads"])
        row["mql_to_sql_rate"] = _ratio(Decimal(row["sqls"]), row["mqls"])
        row["win_rate"] = _ratio(Decimal(row["won_deals"]), row["won_deals"] + row["lost_deals"])
        row["cac"] = _ratio(row["spend"], row["customers"])
        row["roas"] = None if row["spend"] == 0 else row["revenue_won"] / row["spend"]
        for col in (*SCORECARD_COUNTS, *SCORECARD_MONEY, *SCORECARD_RATES):
            before = None if prev is None else prev[col]
            row[f"{col}_change"] = None if not before or row[col] is None else Decimal(row[col]) / Decimal(before) - 1
        rows.append(row)
        prev = row
    return rows


def lead_source_resolver(
    world: World,
    as_of: datetime | None = None,
    name_clocks: list[datetime] | None = None,
    url_tags: bool = True,
    aliases: dict[str, tuple[str, str]] | None = None,
) -> Callable[[str | None], tuple[str, str] | None]:
    """A function from a CRM ``utm_campaign`` value to the (platform, campaign_id) it resolves to,
    or None, by the rule of docs/metrics.md "Lead source resolution", in order: a marketer's alias
    (``aliases``; default the pipeline's own seed, seeds/campaign_aliases.csv), a campaign id, the
    utm_campaign the URL tags of a campaign's own ads carry (``World.ad_utm_campaign``; ads exist before the world's first day; ``url_tags=False``
    is the rule without them), a name the campaign had at one of ``name_clocks`` (the syncs that
    saw names; default one sync at ``as_of``). Case- and whitespace-insensitive; a value two
    campaigns share at one step resolves at none of it (a later step may still take it)."""
    as_of = as_of or world.now
    steps: list[dict[str, set[tuple[str, str]]]] = [defaultdict(set) for _ in range(4)]
    for alias, key in (campaign_aliases() if aliases is None else aliases).items():
        steps[0][alias].add(key)
    for camp in world.campaigns:
        key = (camp.platform, camp.campaign_id)
        steps[1][camp.campaign_id].add(key)
        for t in name_clocks or [as_of]:
            steps[3][_norm(camp.name_as_of(t))].add(key)
    if url_tags:
        for ad_id, value in world.ad_utm_campaign.items():
            ad = world.ad_by_id[ad_id]
            steps[2][_norm(value)].add((ad.platform, ad.campaign_id))

    def resolve(value: str | None) -> tuple[str, str] | None:
        if value is None or _norm(value) is None:
            return None
        for i, step in enumerate(steps):
            # ids compare as sent (trimmed) or normalised, like core.dim_contact's join
            found = step.get(value.strip(), set()) | step.get(_norm(value), set()) if i == 1 \
                else step.get(_norm(value), set())
            if len(found) == 1:
                return next(iter(found))
        return None

    return resolve


def kpi_unresolved_campaigns(
    world: World,
    as_of: datetime | None = None,
    name_clocks: list[datetime] | None = None,
    url_tags: bool = True,
    aliases: dict[str, tuple[str, str]] | None = None,
) -> list[dict]:
    """The utm_campaign values (normalised) no campaign takes (:func:`lead_source_resolver`: not
    an alias, not an id, not a URL-tag value of exactly one campaign's ads, not a name the
    campaign had at one of ``name_clocks``), with their contacts and leads, most leads first."""
    as_of = as_of or world.now
    resolve = lead_source_resolver(world, as_of, name_clocks, url_tags, aliases)
    groups: dict[str, dict] = {}
    for c in world.contacts_as_of(as_of):
        value = _norm(c.utm_campaign)
        if value is None or resolve(c.utm_campaign) is not None:
            continue
        g = groups.setdefault(value, {"contacts": 0, "leads": 0, "seen": []})
        g["contacts"] += 1
        g["leads"] += c.stage_as_of("lead", as_of) is not None
        g["seen"].append(c.created_at)
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1]["leads"], -kv[1]["contacts"], kv[0]))
    return [
        {"unresolved_rank": i, "utm_campaign": value, "contacts": g["contacts"], "leads": g["leads"]}
        for i, (value, g) in enumerate(ordered, start=1)
    ]
