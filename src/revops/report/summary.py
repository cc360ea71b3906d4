"""What a run tells the business at its end: the terminal summary and the Prefect artifact.

Both speak of the reported period (the last complete month), the currency, the headline KPIs with
their change from the previous month and since the previous run, stale sources, rows quarantined and unattributed leads, and
where the HTML report is. ``write_run_report`` writes that report and returns the headline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from revops.report import data as d
from revops.report.html import fmt_change, fmt_month, fmt_pct, fmt_value, render_report

log = logging.getLogger(__name__)

#: the KPIs of the headline, a subset of the scorecard's tiles
HEADLINE = ("spend", "leads", "mqls", "sqls", "pipeline_created", "revenue_won", "cost_per_paid_lead",
            "cac", "roas", "win_rate")
REPORT_NAME = "kpi_report.html"


def report_path(data_dir: Path) -> Path:
    return Path(data_dir) / "report" / REPORT_NAME


def headline(data: d.ReportData) -> dict[str, Any]:
    """The business summary of the warehouse's marts: JSON-serialisable (a flow's return value)."""
    this, last = data.this_month, data.last_month
    tiles = {key: (label, kind) for key, label, kind, _ in d.TILES}
    kpis = []
    for key in HEADLINE:
        label, kind = tiles[key]
        kpis.append({
            "key": key, "label": label,
            "value": this and this.get(key), "previous": last and last.get(key),
            "change": this and this.get(f"{key}_change"),
            "text": fmt_value(this and this.get(key), kind, data.currency),
            "previous_text": fmt_value(last and last.get(key), kind, data.currency),
            "change_text": fmt_change(this and this.get(f"{key}_change")),
        })
    h = data.health
    return {
        "period": fmt_month(this and this["month"]) if this else None,
        "compared_with": fmt_month(last and last["month"]) if last else None,
        "comparison": "previous month",
        "partial_month": fmt_month(data.partial_month) if data.partial_month else None,
        "currency": data.currency,
        "data_from": str(data.first_day) if data.first_day else None,
        "data_to": str(data.last_day) if data.last_day else None,
        "kpis": kpis,
        "stale_sources": h["stale_sources"],
        "freshness_known": h["freshness_from"] == "marts.kpi_data_freshness",
        "quarantined_last_run": h["quarantine_last_run"],
        "quarantined_total": h["quarantine_total"],
        "quarantine_top": [f"{r['source']}.{r['stream']}: {r['reasons']} ({r['n']})"
                           for r in h["quarantine_reasons"][:3]],
        "leads": h["leads"],
        "unattributed_leads": h["unattributed_leads"],
        "unresolved_utm_leads": h["unresolved_utm_leads"],
        "unattributed_top": [f"{r['utm_campaign']} ({r['leads']})" for r in h["unattributed_top"][:3]],
        "coverage": h["coverage"],
    }


def since_previous_run(wh, h: dict[str, Any], run_id: str) -> None:
    """Each headline KPI gains its change since the previous run's report (``since_run``, and
    ``since_run_text``), when that run reported the same period (a new month starts afresh);
    this run's values are kept in ``ops.run_headlines`` for the next one."""
    import json
    from datetime import UTC, datetime

    from sqlalchemy import text

    prev = wh.fetch_all("select run_id, period, kpis from ops.run_headlines where run_id <> :r "
                        "order by recorded_at desc limit 1", r=run_id)
    before = json.loads(prev[0]["kpis"]) if prev and prev[0]["period"] == h["period"] else {}
    h["previous_run"] = prev[0]["run_id"] if prev else None
    kinds = {key: kind for key, _, kind, _ in d.TILES}
    for k in h["kpis"]:
        old = before.get(k["key"])
        k["since_run"] = None if old is None or k["value"] is None else k["value"] - old
        if k["since_run"] is None:
            k["since_run_text"] = "n/a"
        elif k["since_run"] == 0:
            k["since_run_text"] = "no change"
        else:
            text_ = fmt_value(abs(k["since_run"]), kinds[k["key"]], h["currency"])
            k["since_run_text"] = ("+" if k["since_run"] > 0 else "−") + text_
    with wh.engine.begin() as conn:
        conn.execute(text("delete from ops.run_headlines where run_id = :r"), {"r": run_id})
        conn.execute(text("insert into ops.run_headlines (run_id, recorded_at, period, kpis) "
                          "values (:r, :at, :p, :k)"),
                     {"r": run_id, "at": datetime.now(UTC), "p": h["period"],
                      "k": json.dumps({k["key"]: k["value"] for k in h["kpis"]})})


def write_run_report(warehouse_url: str, data_dir: Path, currency: str = "",
                     sla_hours: float | None = None, path: Path | None = None,
                     run_id: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Write the HTML report of the published marts (default ``<data dir>/report/kpi_report.html``)
    and return its path and the headline, read once from the warehouse; with the ``run_id`` of
    the run that published them, the headline also says what moved since the previous run."""
    from revops.load.warehouse import Warehouse

    path = path or report_path(data_dir)
    with Warehouse(warehouse_url) as wh:
        data = d.load(wh, currency)
        h = headline(data)
        if run_id:
            wh.ensure_schemas()
            since_previous_run(wh, h, run_id)
    html = render_report(data, path, sla_hours)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # a reader never opens half a file
    return path, h


def health_lines(h: dict[str, Any]) -> list[str]:
    """Stale sources, quarantine and attribution, one sentence each."""
    if h["stale_sources"]:
        stale = f"Stale sources: {', '.join(h['stale_sources'])}."
    elif h["freshness_known"]:
        stale = "Stale sources: none."
    else:
        stale = "Stale sources: not tracked by this warehouse yet (no marts.kpi_data_freshness)."
    quarantine = (f"Quarantined rows: {h['quarantined_last_run']:,} in the last run, "
                  f"{h['quarantined_total']:,} in all (ops.quarantine)")
    quarantine += f"; top: {'; '.join(h['quarantine_top'])}." if h["quarantine_top"] else "."
    unattributed = (f"Unattributed leads: {h['unattributed_leads']:,} of {h['leads']:,} "
                    f"(attribution coverage {fmt_pct(h['coverage'])}); "
                    f"{h['unresolved_utm_leads']:,} carry a utm_campaign matching no campaign")
    unattributed += f": {', '.join(h['unattributed_top'])}." if h["unattributed_top"] else "."
    return [stale, quarantine, unattributed]


def title(h: dict[str, Any]) -> str:
    if not h["period"]:
        return f"KPIs (no month in the warehouse yet), {h['currency']}"
    against = f"against {h['compared_with']} (the previous month)" if h["compared_with"] else "(no earlier month to compare)"
    text = f"KPIs for {h['period']} {against}, in {h['currency']}"
    if h["partial_month"]:
        text += f"; {h['partial_month']} has only begun"
    return text


def markdown_summary(run_id: str, extracted: list[dict[str, Any]], published: list[str],
                     summary: dict[str, Any]) -> str:
    """The Prefect artifact: the business headline first (``summary['headline']``, put there by
    :func:`publish_report`), then rows per stream of the run."""
    h, report = summary.get("headline"), summary.get("report_path")
    lines = [f"# Nightly sync `{run_id}`", ""]
    if h:
        lines += [f"## {title(h)}", "", f"Data from {h['data_from']} to {h['data_to']}.", "",
                  "| KPI | value | previous month | change | since the previous run |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k['label']} | {k['text']} | {k['previous_text']} | {k['change_text']} "
                  f"| {k.get('since_run_text', 'n/a')} |" for k in h["kpis"]]
        lines += [""] + [f"- {line}" for line in health_lines(h)]
    else:
        lines += [summary.get("report_missing") or "The KPI report could not be written: see the run's log."]
    if report:
        lines += ["", f"KPI report: `{report}`"]
    lines += ["", "## Rows per stream", "", "| source | stream | extracted | loaded | changed | quarantined | s |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for src in extracted:
        for s in src["streams"]:
            lines.append(f"| {s['source']} | {s['stream']} | {s['rows_extracted']} | {s['rows_loaded']} "
                         f"| {s.get('rows_changed', '')} | {s['rows_quarantined']} | {s['seconds']:.1f} |")
    if summary.get("build"):
        lines += ["", build_line(summary["build"])]
    lines += ["", f"Published: {', '.join(f'`marts.{m}`' for m in published)}"]
    return "\n".join(lines)


def build_line(build: dict[str, Any]) -> str:
    """What the run's dbt build covered (``RunResult.summary['build']``), in one sentence."""
    if build["full"]:
        return f"Models: everything rebuilt ({build['reason']})."
    if not build["changed_streams"]:
        return ("Models: no source changed a row, so the build was skipped; only "
                + ", ".join(build["marts"]) + " were refreshed for this run.")
    return (f"Models: only what reads {', '.join(build['changed_streams'])} was rebuilt "
            f"({len(build['marts'])} marts).")


def publish_report(summary: dict[str, Any], run_id: str | None = None,
                   link_artifact: bool = False) -> Path | None:
    """At the end of a successful run (the Prefect flow or the same sequence in-process): write
    the HTML report under the data dir, with ``link_artifact`` attach it to the flow run as the
    ``kpi-report`` link artifact (a file:// link on the machine that ran the flow), and add
    ``headline`` and ``report_path`` to the run's ``summary`` (the run's return value, read by
    :func:`markdown_summary` and the CLI). A report that cannot be written is logged, and the
    run keeps its published marts."""
    import logging

    from revops.settings import get_settings

    settings = get_settings()
    logger = logging.getLogger("revops.report")
    path, h, missing = None, None, None
    try:
        path, h = write_run_report(settings.warehouse_url, settings.data_dir, settings.reporting_currency,
                                   settings.lead_response_sla_hours, run_id=run_id)
    except d.MartsNotPublished as exc:  # nothing to report on yet: said plainly, no traceback
        missing = f"{exc}."
        logger.warning("%s", missing)
    except Exception:  # noqa: BLE001 - the data is published; say why the report is missing
        logger.exception("the KPI report could not be written")
        missing = "The KPI report could not be written: see the run's log."
    if path is not None:
        logger.info("KPI report: %s", path)
        if link_artifact:
            from prefect.artifacts import create_link_artifact

            create_link_artifact(
                key="kpi-report", link=path.resolve().as_uri(), link_text=f"KPI report ({path.name})",
                description="The HTML KPI report of this run's marts (a file on the machine that ran the flow)",
            )
    summary["headline"] = h
    summary["report_path"] = path and str(path)
    summary["report_missing"] = missing
    return path
