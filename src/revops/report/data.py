"""What the KPI report and the end-of-run summary read from the published marts (and ops).

Every query returns plain Python values: a ``Decimal`` (PostgreSQL ``numeric``) becomes a
``float`` here, once, so no caller mixes ``float`` and ``Decimal`` (issue 13). Marts another
change may not have built yet (``marts.kpi_data_freshness``) are read when they exist and
otherwise fall back to what ``ops`` knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from revops.load.warehouse import PUBLISHED_SCHEMA, Warehouse

#: the scorecard's tiles, in the order people read them: (key, label, kind, cost-like: a fall is
#: good; None: neither direction is good in itself, e.g. spend)
#: kind: count | money | unit_money (money per unit) | ratio (a share or a multiple)
TILES: tuple[tuple[str, str, str, bool | None], ...] = (
    ("spend", "Ad spend", "money", None),
    ("leads", "Leads", "count", False),
    ("mqls", "MQLs", "count", False),
    ("sqls", "SQLs", "count", False),
    ("opportunities", "Opportunities", "count", False),
    ("customers", "New customers", "count", False),
    ("pipeline_created", "Pipeline created", "money", False),
    ("revenue_won", "Revenue won", "money", False),
    ("cost_per_paid_lead", "Cost per paid lead", "unit_money", True),
    ("cost_per_mql", "Cost per MQL", "unit_money", True),
    ("cost_per_sql", "Cost per SQL", "unit_money", True),
    ("cac", "CAC", "unit_money", True),
    ("roas", "ROAS", "multiple", False),
    ("mql_to_sql_rate", "MQL → SQL", "ratio", False),
    ("win_rate", "Win rate", "ratio", False),
)
#: tiles the scorecard mart does not carry: computed here from its columns (definition, formula)
DERIVED_TILES = {
    "cost_per_mql": ("spend", "mqls", "Ad spend / MQLs of the month (from marts.kpi_scorecard_monthly); "
                                      "empty when there were no MQLs."),
    "cost_per_sql": ("spend", "sqls", "Ad spend / SQLs of the month (from marts.kpi_scorecard_monthly); "
                                      "empty when there were no SQLs."),
}


def plain(value: Any) -> Any:
    """A database value as plain Python: Decimal -> float; everything else unchanged."""
    return float(value) if isinstance(value, Decimal) else value


def rows(wh: Warehouse, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in r.items()} for r in wh.fetch_all(sql, **params)]


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is 0 (never 0 or infinity)."""
    if a is None or not b:
        return None
    return a / b


def add_ratios(rows_: list[dict[str, Any]], **ratios: tuple[str, str]) -> None:
    """Each row gains ``name = row[numerator] / row[denominator]`` (None where it is 0)."""
    for r in rows_:
        for name, (num, den) in ratios.items():
            r[name] = ratio(r[num], r[den])


def change(now: float | None, before: float | None) -> float | None:
    """Relative change now / before - 1; None without a previous value or when it was 0."""
    if now is None or not before:
        return None
    return now / before - 1


@dataclass
class ReportData:
    currency: str
    months: list[date]
    scorecard: list[dict[str, Any]]
    first_day: date | None
    last_day: date | None
    targets: list[dict[str, Any]] = field(default_factory=list)
    funnel: list[dict[str, Any]] = field(default_factory=list)
    channel_months: list[dict[str, Any]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    lead_quality: list[dict[str, Any]] = field(default_factory=list)
    rejection_reasons: list[dict[str, Any]] = field(default_factory=list)
    response_weeks: list[dict[str, Any]] = field(default_factory=list)
    response_owners: list[dict[str, Any]] = field(default_factory=list)
    pipeline: list[dict[str, Any]] = field(default_factory=list)
    attribution: list[dict[str, Any]] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def period_index(self) -> int | None:
        """The scorecard row the report is about: the last complete month (the latest month while
        it is still running shows a day or two, no fair comparison), else the latest month."""
        if not self.scorecard:
            return None
        i = len(self.scorecard) - 1
        if i > 0 and self.last_day is not None and not is_month_end(self.last_day):
            i -= 1
        return i

    @property
    def this_month(self) -> dict[str, Any] | None:
        i = self.period_index
        return None if i is None else self.scorecard[i]

    @property
    def last_month(self) -> dict[str, Any] | None:
        i = self.period_index
        return self.scorecard[i - 1] if i else None

    @property
    def partial_month(self) -> date | None:
        """The month still running after the reported one (in the trend lines only), if any."""
        i = self.period_index
        return self.scorecard[-1]["month"] if i is not None and i < len(self.scorecard) - 1 else None


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def _currency(wh: Warehouse, default: str) -> str:
    found = [r["currency"] for r in wh.fetch_all("select distinct currency from marts.kpi_channel_daily")]
    return found[0] if len(found) == 1 else default


def scorecard(wh: Warehouse) -> list[dict[str, Any]]:
    """Every month of marts.kpi_scorecard_monthly, plus cost per MQL / SQL (spend / count)."""
    out = rows(wh, "select * from marts.kpi_scorecard_monthly order by month")
    for r in out:
        for key, (num, den, _) in DERIVED_TILES.items():
            r[key] = ratio(r[num], r[den])
    for before, now in zip([None, *out], out):
        for key in DERIVED_TILES:
            now[f"{key}_change"] = change(now[key], before and before[key])
    return out


def health(wh: Warehouse) -> dict[str, Any]:
    """Data health: freshness per source, quarantined rows, unattributed leads and coverage."""
    if wh.table_exists("marts", "kpi_data_freshness"):
        freshness = rows(wh, "select * from marts.kpi_data_freshness order by source")
        freshness_from = "marts.kpi_data_freshness"
    else:  # before that mart exists: the last completed run that loaded each source
        freshness = rows(
            wh,
            "select s.source, max(r.finished_at) as last_success_at, sum(s.rows_loaded) as rows_loaded "
            "from ops.run_streams s join ops.runs r on r.run_id = s.run_id where r.status = 'completed' "
            "group by s.source order by s.source",
        )
        freshness_from = "ops.runs"
    latest_run = wh.scalar("select run_id from ops.runs where status in ('completed', 'completed_with_warnings') "
                           "order by finished_at desc limit 1")
    quarantine_total = int(wh.scalar("select count(*) from ops.quarantine") or 0)
    quarantine_last_run = int(
        wh.scalar("select count(*) from ops.quarantine where run_id = :r", r=latest_run) or 0
    ) if latest_run else 0
    quarantine_reasons = rows(
        wh,
        "select source, stream, reasons, count(*) as n from ops.quarantine "
        "group by source, stream, reasons order by n desc, source, stream, reasons limit 10",
    )
    # the marketer's to-do list: utm_campaign values no campaign (nor campaign_aliases) resolves
    unattributed = rows(
        wh,
        "select utm_campaign, leads from marts.kpi_unresolved_campaigns where leads > 0 "
        "order by unresolved_rank limit 10",
    ) if wh.table_exists("marts", "kpi_unresolved_campaigns") else []
    counts = rows(
        wh,
        "select count(*) as leads, "
        "sum(case when source_campaign_id is null then 1 else 0 end) as unattributed, "
        "sum(case when source_campaign_id is null and utm_campaign is not null then 1 else 0 end) "
        "as unresolved_utm from core.dim_person where lead_at is not null",  # people, like the marts
    )[0]
    coverage = rows(
        wh,
        "select channel, sum(leads) as leads, sum(attributed_leads) as attributed_leads "
        "from marts.kpi_attribution_coverage group by channel order by leads desc, channel",
    )
    leads = sum(r["leads"] for r in coverage)
    attributed = sum(r["attributed_leads"] for r in coverage)
    for r in coverage:
        r["coverage"] = ratio(r["attributed_leads"], r["leads"])
    stale = [r["source"] for r in freshness if r.get("is_stale")]
    return {
        "freshness": freshness,
        "freshness_from": freshness_from,
        "stale_sources": stale,
        "quarantine_total": quarantine_total,
        "quarantine_last_run": quarantine_last_run,
        "quarantine_reasons": quarantine_reasons,
        "unattributed_top": unattributed,
        "leads": int(counts["leads"] or 0),
        "unattributed_leads": int(counts["unattributed"] or 0),
        "unresolved_utm_leads": int(counts["unresolved_utm"] or 0),
        "coverage_by_channel": coverage,
        "coverage": ratio(attributed, leads),
    }


#: the published marts the report cannot do without (kpi_data_freshness and
#: kpi_unresolved_campaigns are read when they exist)
REQUIRED_MARTS = ("kpi_channel_daily", "kpi_scorecard_monthly", "kpi_targets_vs_actual",
                  "kpi_funnel_monthly", "kpi_pipeline", "kpi_lead_response", "kpi_lead_quality",
                  "kpi_lead_rejection_reasons", "kpi_attribution", "kpi_attribution_coverage")


class MartsNotPublished(RuntimeError):
    """The warehouse has not published the marts the report reads (yet): a warehouse no run has
    built, or a first night whose CRM failed (its marts are held until it loads)."""


def check_published(wh: Warehouse) -> None:
    """Raise :class:`MartsNotPublished` naming what is missing, rather than the first query's
    "relation does not exist"."""
    published = set(wh.tables(PUBLISHED_SCHEMA))
    missing = [m for m in REQUIRED_MARTS if m not in published]
    if len(missing) == len(REQUIRED_MARTS):
        raise MartsNotPublished("No KPI report: this warehouse has published no marts yet (a run "
                                "publishes them once its sources load; a night whose CRM failed "
                                "holds the marts that read it)")
    if missing:
        raise MartsNotPublished("No KPI report: marts not published yet: "
                                + ", ".join(f"marts.{m}" for m in missing))


def load(wh: Warehouse, default_currency: str = "") -> ReportData:
    """Everything the report shows, read once."""
    check_published(wh)
    days = rows(wh, "select min(date_day) as first, max(date_day) as last from marts.kpi_channel_daily")[0]
    card = scorecard(wh)
    data = ReportData(
        currency=_currency(wh, default_currency),
        months=[r["month"] for r in card],
        scorecard=card,
        first_day=days["first"],
        last_day=days["last"],
    )
    data.targets = rows(
        wh, "select month, channel, metric, target, actual, attainment from marts.kpi_targets_vs_actual "
            "order by month, metric, channel",
    )
    # cohort rates from the counts: rate x its denominator is the count that moved on, so the
    # month's rate is the sum of those over the sum of the denominators (exact, not an average)
    data.funnel = rows(
        wh,
        "select cohort_month, sum(leads) as leads, sum(mqls) as mqls, sum(sqls) as sqls, "
        "sum(opportunities) as opportunities, sum(customers) as customers, "
        "sum(mql_to_sql_rate * mqls) as mqls_to_sql, sum(sql_to_opportunity_rate * sqls) as sqls_to_opp, "
        "sum(opportunity_to_customer_rate * opportunities) as opps_to_customer, "
        "sum(median_days_lead_to_mql * mqls) / nullif(sum(case when median_days_lead_to_mql is not null "
        "then mqls end), 0) as days_lead_to_mql, "
        "sum(median_days_mql_to_sql * sqls) / nullif(sum(case when median_days_mql_to_sql is not null "
        "then sqls end), 0) as days_mql_to_sql, "
        "sum(median_days_sql_to_opportunity * opportunities) / nullif(sum(case when "
        "median_days_sql_to_opportunity is not null then opportunities end), 0) as days_sql_to_opportunity, "
        "sum(median_days_opportunity_to_customer * customers) / nullif(sum(case when "
        "median_days_opportunity_to_customer is not null then customers end), 0) as days_opportunity_to_customer "
        "from marts.kpi_funnel_monthly group by cohort_month order by cohort_month",
    )
    add_ratios(data.funnel, lead_to_mql_rate=("mqls", "leads"), mql_to_sql_rate=("mqls_to_sql", "mqls"),
               sql_to_opportunity_rate=("sqls_to_opp", "sqls"),
               opportunity_to_customer_rate=("opps_to_customer", "opportunities"))
    month = "date_trunc('month', date_day)"
    data.channel_months = rows(
        wh,
        f"select cast({month} as date) as month, channel, sum(spend) as spend, sum(leads) as leads, "
        f"sum(mqls) as mqls, sum(sqls) as sqls from marts.kpi_channel_daily "
        f"group by {month}, channel order by 1, channel",
    )
    data.campaigns = rows(
        wh,
        "select channel, platform, campaign_name, sum(spend) as spend, sum(leads) as leads, sum(mqls) as mqls, "
        "sum(sqls) as sqls, sum(customers) as customers, sum(pipeline_created) as pipeline_created, "
        "sum(revenue_won) as revenue_won from marts.kpi_channel_daily "
        "group by channel, platform, campaign_id, campaign_name order by spend desc, campaign_name",
    )
    add_ratios(data.campaigns, cpl=("spend", "leads"), cost_per_mql=("spend", "mqls"),
               cost_per_sql=("spend", "sqls"), cac=("spend", "customers"), roas=("revenue_won", "spend"))
    data.lead_quality = rows(
        wh,
        "select channel, campaign_name, sum(mqls) as mqls, sum(accepted) as accepted, "
        "sum(rejected) as rejected, sum(pending) as pending from marts.kpi_lead_quality "
        "group by channel, campaign_id, campaign_name order by mqls desc, campaign_name",
    )
    for r in data.lead_quality:
        r["acceptance_rate"] = ratio(r["accepted"], r["mqls"])
        r["rejection_rate"] = ratio(r["rejected"], r["accepted"] + r["rejected"])
    data.rejection_reasons = rows(
        wh,
        "select rejection_reason, sum(rejected) as rejected from marts.kpi_lead_rejection_reasons "
        "group by rejection_reason order by rejected desc, rejection_reason",
    )
    data.response_weeks = rows(
        wh,
        "select mql_week, coalesce(team, '(no team)') as team, sum(mqls) as mqls, "
        "sum(within_sla) as within_sla, sum(missed_sla) as missed_sla, sum(pending) as pending "
        "from marts.kpi_lead_response group by mql_week, coalesce(team, '(no team)') order by mql_week, team",
    )
    data.response_owners = rows(
        wh,
        "select coalesce(team, '(no team)') as team, owner_id, coalesce(owner_name, owner_id) as owner, "
        "sum(mqls) as mqls, sum(touched) as touched, sum(within_sla) as within_sla, "
        "sum(missed_sla) as missed_sla, sum(pending) as pending, "
        "sum(median_hours_to_first_touch * touched) / nullif(sum(case when median_hours_to_first_touch "
        "is not null then touched end), 0) as hours_to_first_touch "
        "from marts.kpi_lead_response group by coalesce(team, '(no team)'), owner_id, "
        "coalesce(owner_name, owner_id) order by team, owner",
    )
    for r in data.response_weeks + data.response_owners:
        r["share_within_sla"] = ratio(r["within_sla"], r["within_sla"] + r["missed_sla"])
    data.pipeline = rows(
        wh,
        "select month, sum(deals_created) as deals_created, sum(pipeline_created) as pipeline_created, "
        "sum(open_deals_end) as open_deals_end, sum(open_pipeline_end) as open_pipeline_end, "
        "sum(won_deals) as won_deals, sum(won_amount) as won_amount, sum(lost_deals) as lost_deals, "
        "sum(lost_amount) as lost_amount, sum(avg_sales_cycle_days * won_deals) as cycle_days_x_won "
        "from marts.kpi_pipeline group by month order by month",
    )
    for r in data.pipeline:
        r["win_rate"] = ratio(r["won_deals"], r["won_deals"] + r["lost_deals"])
        r["avg_won_amount"] = ratio(r["won_amount"], r["won_deals"])
        r["avg_sales_cycle_days"] = ratio(r["cycle_days_x_won"], r["won_deals"])
    data.attribution = rows(
        wh,
        "select channel, model, sum(attributed_revenue) as revenue, sum(attributed_deals) as deals, "
        "sum(spend) as spend from marts.kpi_attribution group by channel, model order by channel, model",
    )
    for r in data.attribution:
        r["roas"] = ratio(r["revenue"], r["spend"])
    data.health = health(wh)
    return data


def as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value
