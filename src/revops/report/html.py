"""The static KPI report: one HTML file, no JavaScript, charts as inline SVG."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from revops.load.warehouse import Warehouse


def _bars(values: list[tuple[str, float]], title: str, width: int = 900, height: int = 160) -> str:
    if not values:
        return ""
    top = max(v for _, v in values) or 1.0
    bw = width / len(values)
    rects = "".join(
        f'<rect x="{i * bw:.1f}" y="{height - v / top * height:.1f}" width="{max(bw - 1, 1):.1f}" '
        f'height="{v / top * height:.1f}"><title>{html.escape(k)}: {v:,.2f}</title></rect>'
        for i, (k, v) in enumerate(values)
    )
    return (
        f"<h3>{html.escape(title)}</h3><svg viewBox='0 0 {width} {height}' width='100%' "
        f"height='{height}' fill='#3b6ea8'>{rects}</svg>"
    )


def write_report(wh: Warehouse, path: Path) -> Path:
    daily = wh.fetch_all(
        "select date_day, sum(spend) as spend, sum(leads) as leads from marts.kpi_channel_daily "
        "group by date_day order by date_day"
    )
    campaigns = wh.fetch_all(
        "select platform, campaign_name, currency, sum(spend) as spend, sum(leads) as leads, "
        "sum(mqls) as mqls, sum(sqls) as sqls from marts.kpi_channel_daily "
        "group by platform, campaign_name, currency order by spend desc"
    )

    attribution = wh.fetch_all(
        "select channel, model, sum(attributed_revenue) as revenue, sum(spend) as spend "
        "from marts.kpi_attribution group by channel, model order by channel, model"
    )

    def ratio(a, b):
        return f"{a / b:,.2f}" if b else "—"

    rows = "".join(
        f"<tr><td>{html.escape(str(c['platform']))}</td><td>{html.escape(str(c['campaign_name']))}</td>"
        f"<td>{float(c['spend']):,.2f} {html.escape(str(c['currency']))}</td><td>{c['leads']}</td>"
        f"<td>{c['mqls']}</td><td>{c['sqls']}</td><td>{ratio(float(c['spend']), c['leads'])}</td>"
        f"<td>{ratio(float(c['spend']), c['mqls'])}</td><td>{ratio(float(c['spend']), c['sqls'])}</td></tr>"
        for c in campaigns
    )
    attributed = "".join(
        f"<tr><td>{html.escape(str(a['channel']))}</td><td>{html.escape(str(a['model']))}</td>"
        f"<td>{float(a['spend']):,.2f}</td><td>{float(a['revenue']):,.2f}</td>"
        f"<td>{ratio(float(a['revenue']), float(a['spend']))}</td></tr>"
        for a in attribution
    )
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>revops KPI report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse}}
td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}td:nth-child(-n+2){{text-align:left}}</style>
</head><body><h1>Marketing + sales KPIs</h1><p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from
<code>marts.kpi_channel_daily</code>. Definitions: docs/metrics.md.</p>
{_bars([(str(d['date_day']), float(d['spend'])) for d in daily], 'Spend per day')}
{_bars([(str(d['date_day']), float(d['leads'])) for d in daily], 'Leads per day')}
<h2>By campaign</h2><table><tr><th>platform</th><th>campaign</th><th>spend</th><th>leads</th><th>MQLs</th>
<th>SQLs</th><th>CPL</th><th>cost/MQL</th><th>cost/SQL</th></tr>{rows}</table>
<h2>Won revenue by attribution model</h2><p>From <code>marts.kpi_attribution</code>: each won deal's
amount spread over the campaigns its person responded to before the deal.</p>
<table><tr><th>channel</th><th>model</th><th>spend</th><th>attributed revenue</th><th>ROAS</th></tr>
{attributed}</table></body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path
