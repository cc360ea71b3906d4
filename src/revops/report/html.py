"""The KPI report both departments open every morning: one self-contained HTML file.

Nine sections in the order people read them (scorecard, targets, funnel, channels and campaigns,
lead quality, follow-up speed, pipeline, attribution, data health), read from the published marts
(``revops.report.data``). Charts are plotly figures: plotly.js is inlined once into the file (no
CDN: it opens from a file share or an e-mail), each figure after it without the library. The
page is laid out by a jinja2 template (``templates/report.html.j2``); every metric carries its
definition from the model yml on hover, and each section ends with a footnote linking
docs/metrics.md.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from revops.load.warehouse import Warehouse
from revops.report import data as d
from revops.report.docs import DOCS_DIR, mart_models, render_description

#: figures resize with the page; no toolbar
#: (drag to zoom and double-click to reset still work; a toolbar over a screenshot does not help)
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}
#: the section ids, in order (the browser test checks them)
SECTIONS = ("scorecard", "targets", "funnel", "channels", "lead-quality", "follow-up", "pipeline",
            "attribution", "data-health")
COLORS = ["#3b6ea8", "#e07b39", "#4c9f70", "#b6465f", "#7d5ba6", "#c9a227", "#2a9d8f", "#6c757d"]


# ---------------------------------------------------------------------------- formatting
def fmt_count(v: Any) -> str:
    return "–" if v is None else f"{v:,.0f}"


def fmt_money(v: Any, currency: str = "") -> str:
    if v is None:
        return "–"
    return f"{v:,.0f} {currency}".strip()


def fmt_unit_money(v: Any, currency: str = "") -> str:
    if v is None:
        return "–"
    return f"{v:,.2f} {currency}".strip()


def fmt_pct(v: Any) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


def fmt_multiple(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}×"


def fmt_change(v: Any) -> str:
    return "n/a" if v is None else f"{v * 100:+.1f} %"


def fmt_num(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_month(v: Any) -> str:
    v = d.as_date(v)
    return "–" if v is None else f"{v:%B %Y}"


def fmt_value(v: Any, kind: str, currency: str) -> str:
    """A tile's value by its kind (see revops.report.data.TILES)."""
    if kind == "money":
        return fmt_money(v, currency)
    if kind == "unit_money":
        return fmt_unit_money(v, currency)
    if kind == "ratio":
        return fmt_pct(v)
    if kind == "multiple":
        return fmt_multiple(v)
    return fmt_count(v)


# ---------------------------------------------------------------------------- definitions
@functools.cache
def definitions() -> dict[str, dict[str, str]]:
    """Column descriptions of every mart, from the model yml (what dbt writes into comments)."""
    out: dict[str, dict[str, str]] = {}
    for name, model in mart_models().items():
        out[name] = {c["name"]: " ".join(render_description(c.get("description")).split())
                     for c in model.get("columns", [])}
    return out


def metrics_href(report_path: Path) -> str:
    """A link from the report to docs/metrics.md: relative to where the file is written when the
    source checkout's docs are there, else the path inside the repository."""
    target = DOCS_DIR / "metrics.md"
    if target.is_file():
        try:
            return Path(os.path.relpath(target, report_path.parent.resolve())).as_posix()
        except ValueError:  # another drive (Windows)
            return target.as_uri()
    return "docs/metrics.md"


def anchor(mart: str) -> str:
    """GitHub's anchor of docs/metrics.md's heading ``## `marts.<mart>` ``."""
    return "#marts" + mart


# ---------------------------------------------------------------------------- charts
def _layout(fig: go.Figure, height: int, y_title: str = "", x_title: str = "", **kw: Any) -> go.Figure:
    kw.setdefault("hovermode", "x unified")
    fig.update_layout(
        template="plotly_white", height=height, margin=dict(l=60, r=20, t=30, b=50), font=dict(size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0), **kw,
    )
    fig.update_yaxes(title_text=y_title, rangemode="tozero", automargin=True)
    fig.update_xaxes(title_text=x_title, automargin=True)
    return fig


def _months_axis(fig: go.Figure) -> None:
    fig.update_xaxes(tickformat="%b %Y", dtick="M1", hoverformat="%B %Y")


def _short(text: str, n: int = 26) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class Charts:
    """Figures rendered into divs (plotly.js is in the page once)."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure, name: str) -> Markup:
        self.count += 1
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}",
                          config=PLOT_CONFIG, default_width="100%")
        return Markup(f'<div class="chart" data-chart="{name}">{div}</div>')


def sparkline(months: list[date], values: list[Any], label: str, kind: str, currency: str) -> go.Figure:
    hover = [fmt_value(v, kind, currency) for v in values]
    fig = go.Figure(go.Scatter(
        x=[m.isoformat() for m in months], y=values, mode="lines+markers", line=dict(color=COLORS[0], width=2),
        marker=dict(size=5), customdata=hover, hovertemplate="%{x|%b %Y}: %{customdata}<extra></extra>",
        name=label, connectgaps=False,
    ))
    fig.update_layout(template="plotly_white", height=70, margin=dict(l=4, r=4, t=4, b=18), showlegend=False,
                      font=dict(size=10))
    fig.update_xaxes(tickformat="%b", dtick="M1", showgrid=False)
    fig.update_yaxes(visible=False, rangemode="tozero")
    return fig


def build_context(data: d.ReportData, report_path: Path, charts: Charts) -> dict[str, Any]:
    cur = data.currency
    defs = definitions()
    this, last = data.this_month, data.last_month
    # the trend lines end at the reported month: a month still running would show as a fall
    card = data.scorecard[: (data.period_index or 0) + 1]
    months = [r["month"] for r in card]
    iso = [m.isoformat() for m in months]

    # 1. scorecard tiles
    tiles = []
    for key, label, kind, costlike in d.TILES:
        if key in d.DERIVED_TILES:
            definition = d.DERIVED_TILES[key][2]
        else:
            definition = defs["kpi_scorecard_monthly"].get(key, "")
        now = this and this.get(key)
        ch = this and this.get(f"{key}_change")
        good = None if ch is None or ch == 0 or costlike is None else (ch < 0) == costlike
        tiles.append({
            "key": key, "label": label, "definition": definition,
            "value": fmt_value(now, kind, cur), "raw": now, "previous": fmt_value(last and last.get(key), kind, cur),
            "change": fmt_change(ch), "good": good,
            "chart": charts.html(sparkline(months, [r.get(key) for r in card], label, kind, cur),
                                 f"spark-{key}"),
        })

    # 2. targets vs actuals: the reported month's rows, and attainment over time per metric
    target_month = this and this["month"]
    tva = [r for r in data.targets if r["month"] == target_month]
    departments = [("Marketing", ("mqls", "sqls")), ("Sales", ("pipeline", "revenue"))]
    targets_tables = [
        {"department": dep, "rows": [r for r in tva if r["metric"] in metrics]} for dep, metrics in departments
    ]
    fig = go.Figure()
    for i, metric in enumerate(("mqls", "sqls", "pipeline", "revenue")):
        by_month: dict[date, list[float]] = {}
        for r in data.targets:
            if r["metric"] == metric and r["target"]:
                by_month.setdefault(r["month"], [0.0, 0.0])
                by_month[r["month"]][0] += r["actual"] or 0
                by_month[r["month"]][1] += r["target"]
        xs = sorted(by_month)
        fig.add_bar(x=[m.isoformat() for m in xs], y=[by_month[m][0] / by_month[m][1] for m in xs],
                    name={"mqls": "MQLs", "sqls": "SQLs"}.get(metric, metric.capitalize()),
                    marker_color=COLORS[i], hovertemplate="%{y:.0%}")
    fig.add_hline(y=1, line_dash="dash", line_color="#444", annotation_text="target",
                  annotation_position="top left")
    _layout(fig, 340, "attainment (actual / target)", "month", barmode="group")
    fig.update_yaxes(tickformat=".0%")
    _months_axis(fig)
    targets_chart = charts.html(fig, "targets")

    # 3. funnel by cohort month
    fiso = [r["cohort_month"].isoformat() for r in data.funnel]
    stages = [("leads", "Leads"), ("mqls", "MQLs"), ("sqls", "SQLs"), ("opportunities", "Opportunities"),
              ("customers", "Customers")]
    fig = go.Figure()
    for i, (key, label) in enumerate(stages):
        fig.add_bar(x=fiso, y=[r[key] for r in data.funnel], name=label, marker_color=COLORS[i],
                    hovertemplate="%{y:,}")
    _layout(fig, 360, "contacts (of the month's lead cohort)", "lead cohort month", barmode="group")
    _months_axis(fig)
    funnel_chart = charts.html(fig, "funnel")
    fig = go.Figure()
    for i, (key, label) in enumerate([("lead_to_mql_rate", "Lead → MQL"), ("mql_to_sql_rate", "MQL → SQL"),
                                      ("sql_to_opportunity_rate", "SQL → Opportunity"),
                                      ("opportunity_to_customer_rate", "Opportunity → Customer")]):
        fig.add_scatter(x=fiso, y=[r[key] for r in data.funnel], name=label, mode="lines+markers",
                        line=dict(color=COLORS[i]), hovertemplate="%{y:.1%}")
    _layout(fig, 320, "conversion rate", "lead cohort month")
    fig.update_yaxes(tickformat=".0%")
    _months_axis(fig)
    conversion_chart = charts.html(fig, "conversion")

    # 4. channels and campaigns
    fig = go.Figure()
    channels = sorted({r["channel"] for r in data.channel_months})
    for i, ch in enumerate(channels):
        rs = [r for r in data.channel_months if r["channel"] == ch]
        fig.add_bar(x=[r["month"].isoformat() for r in rs], y=[r["spend"] for r in rs], name=ch,
                    marker_color=COLORS[i % len(COLORS)], hovertemplate="%{y:,.0f} " + cur)
    _layout(fig, 340, f"ad spend ({cur})", "month", barmode="stack")
    _months_axis(fig)
    spend_chart = charts.html(fig, "spend-by-channel")
    fig = go.Figure()
    for i, ch in enumerate(channels):
        rs = [r for r in data.channel_months if r["channel"] == ch]
        fig.add_bar(x=[r["month"].isoformat() for r in rs], y=[r["leads"] for r in rs], name=ch,
                    marker_color=COLORS[i % len(COLORS)], hovertemplate="%{y:,}")
    _layout(fig, 340, "attributed leads", "month", barmode="stack")
    _months_axis(fig)
    leads_chart = charts.html(fig, "leads-by-channel")

    # 5. lead quality
    lq = sorted(data.lead_quality, key=lambda r: r["mqls"])
    fig = go.Figure()
    names = [f"{r['campaign_name']} ({r['channel']})" for r in lq]
    for i, (key, label) in enumerate([("accepted", "accepted (reached SQL)"), ("rejected", "rejected by sales"),
                                      ("pending", "not decided yet")]):
        fig.add_bar(y=names, x=[r[key] for r in lq], name=label, orientation="h",
                    marker_color=[COLORS[2], COLORS[3], "#adb5bd"][i], hovertemplate="%{x:,}")
    _layout(fig, max(320, 26 * len(lq) + 120), "", "MQLs", barmode="stack", hovermode="y unified")
    # short labels keep the bars wide on a phone; the hover names the campaign in full
    fig.update_yaxes(tickmode="array", tickvals=names, ticktext=[_short(n) for n in names])
    quality_chart = charts.html(fig, "lead-quality")
    reasons = data.rejection_reasons
    fig = go.Figure(go.Bar(y=[r["rejection_reason"] for r in reasons][::-1],
                           x=[r["rejected"] for r in reasons][::-1], orientation="h", marker_color=COLORS[3],
                           hovertemplate="%{y}: %{x:,} rejected MQLs<extra></extra>"))
    _layout(fig, max(240, 30 * len(reasons) + 100), "", "rejected MQLs", hovermode="closest")
    reasons_chart = charts.html(fig, "rejection-reasons")
    total_rejected = sum(r["rejected"] for r in reasons)

    # 6. follow-up speed against the SLA
    fig = go.Figure()
    teams = sorted({r["team"] for r in data.response_weeks})
    for i, team in enumerate(teams):
        rs = [r for r in data.response_weeks if r["team"] == team]
        fig.add_scatter(x=[r["mql_week"].isoformat() for r in rs], y=[r["share_within_sla"] for r in rs],
                        name=team, mode="lines+markers", line=dict(color=COLORS[i % len(COLORS)]),
                        hovertemplate="%{y:.0%}", connectgaps=False)
    _layout(fig, 340, "MQLs followed up within the SLA", "week of the MQL (Monday)")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_xaxes(tickformat="%d %b", hoverformat="week of %d %b %Y")
    sla_chart = charts.html(fig, "follow-up")

    # 7. pipeline, win rate, sales cycle
    piso = [r["month"].isoformat() for r in data.pipeline]
    fig = go.Figure()
    fig.add_bar(x=piso, y=[r["pipeline_created"] for r in data.pipeline], name="pipeline created",
                marker_color=COLORS[0], hovertemplate="%{y:,.0f} " + cur)
    fig.add_bar(x=piso, y=[r["won_amount"] for r in data.pipeline], name="revenue won",
                marker_color=COLORS[2], hovertemplate="%{y:,.0f} " + cur)
    fig.add_scatter(x=piso, y=[r["open_pipeline_end"] for r in data.pipeline], name="open pipeline at month end",
                    mode="lines+markers", line=dict(color=COLORS[1]), hovertemplate="%{y:,.0f} " + cur)
    _layout(fig, 340, f"amount ({cur})", "month", barmode="group")
    _months_axis(fig)
    pipeline_chart = charts.html(fig, "pipeline")
    fig = go.Figure()
    fig.add_scatter(x=piso, y=[r["win_rate"] for r in data.pipeline], name="win rate (by count)",
                    mode="lines+markers", line=dict(color=COLORS[2]), hovertemplate="%{y:.0%}")
    fig.add_scatter(x=piso, y=[r["avg_sales_cycle_days"] for r in data.pipeline], name="sales cycle (days)",
                    mode="lines+markers", line=dict(color=COLORS[4]), yaxis="y2", hovertemplate="%{y:.1f} days")
    _layout(fig, 320, "win rate", "month")
    fig.update_layout(yaxis=dict(tickformat=".0%", range=[0, 1.05]),
                      yaxis2=dict(title="avg days created → won", overlaying="y", side="right", rangemode="tozero"))
    _months_axis(fig)
    winrate_chart = charts.html(fig, "win-rate")

    # 8. attribution, models side by side
    models = ["first_touch", "last_touch", "linear", "u_shaped"]
    att_channels = sorted({r["channel"] for r in data.attribution})
    by = {(r["channel"], r["model"]): r for r in data.attribution}
    fig = go.Figure()
    for i, model in enumerate(models):
        fig.add_bar(x=att_channels, y=[(by.get((c, model)) or {}).get("revenue") for c in att_channels],
                    name=model.replace("_", " "), marker_color=COLORS[i], hovertemplate="%{y:,.0f} " + cur)
    _layout(fig, 340, f"won revenue credited ({cur})", "channel", barmode="group")
    attribution_chart = charts.html(fig, "attribution")
    attribution_rows = [
        {"channel": c, "spend": (by.get((c, models[0])) or {}).get("spend"),
         "models": [by.get((c, m)) or {} for m in models]}
        for c in att_channels
    ]

    # 9. data health
    h = data.health
    cov = h["coverage_by_channel"]
    fig = go.Figure()
    fig.add_bar(x=[r["channel"] for r in cov], y=[r["attributed_leads"] for r in cov], name="attributed",
                marker_color=COLORS[2], hovertemplate="%{y:,}")
    fig.add_bar(x=[r["channel"] for r in cov], y=[r["leads"] - r["attributed_leads"] for r in cov],
                name="unattributed", marker_color="#adb5bd", hovertemplate="%{y:,}")
    _layout(fig, 300, "leads", "channel", barmode="stack")
    coverage_chart = charts.html(fig, "coverage")

    period = {
        "this": this and this["month"], "last": last and last["month"], "partial": data.partial_month,
        "first_day": data.first_day, "last_day": data.last_day,
    }
    return {
        "generated_at": datetime.now(UTC), "currency": cur, "period": period, "sections": SECTIONS,
        "plotly_js": Markup(get_plotlyjs()), "defs": defs, "metrics_href": metrics_href(report_path),
        "tiles": tiles, "scorecard_rows": data.scorecard, "months": iso,
        "targets_tables": targets_tables, "targets_chart": targets_chart,
        "funnel": data.funnel, "funnel_chart": funnel_chart, "conversion_chart": conversion_chart,
        "campaigns": data.campaigns, "spend_chart": spend_chart, "leads_chart": leads_chart,
        "lead_quality": data.lead_quality, "quality_chart": quality_chart, "reasons": reasons,
        "reasons_chart": reasons_chart, "total_rejected": total_rejected,
        "response_owners": data.response_owners, "sla_chart": sla_chart,
        "pipeline": data.pipeline, "pipeline_chart": pipeline_chart, "winrate_chart": winrate_chart,
        "models": models, "attribution_rows": attribution_rows, "attribution_chart": attribution_chart,
        "health": h, "coverage_chart": coverage_chart, "chart_count": charts.count,
    }


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("revops.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(count=fmt_count, money=fmt_money, unit_money=fmt_unit_money, pct=fmt_pct,
                       multiple=fmt_multiple, change=fmt_change, num=fmt_num, month=fmt_month, anchor=anchor)
    return env


def render_report(data: d.ReportData, report_path: Path, sla_hours: float | None = None) -> str:
    context = build_context(data, report_path, Charts())
    context["sla_hours"] = sla_hours
    return _env().get_template("report.html.j2").render(**context)


def write_report(wh: Warehouse, path: Path, currency: str = "", sla_hours: float | None = None) -> Path:
    """Write the report of the published marts to ``path`` (written whole, then renamed into
    place: a reader never opens half a file)."""
    report = render_report(d.load(wh, currency), path, sla_hours)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report, encoding="utf-8")
    tmp.replace(path)
    return path
