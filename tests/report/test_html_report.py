"""The KPI report in a real browser (Debian's headless Chromium), on both engines, from the shared
``built_warehouse`` (no build of its own): no console errors, the nine sections in order, every
chart drawn with data, the scorecard equal to the sandbox's ground truth, a usable phone layout;
screenshots at 1400 and 390 px, into docs/img/ (README shows them) with ``make screenshots``
(``UPDATE_SCREENSHOTS=1``), else into the test's temporary folder, so ``make test`` leaves the
checkout as it found it."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from revops.report.html import SECTIONS
from revops.report.summary import markdown_summary, write_run_report
from revops.sandbox import truth
from tests.report.browser import chromium, console_errors, full_page_png, set_width

#: reads the shared warehouse built through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _screenshots(tmp_path: Path) -> Path:
    """Where the screenshots go: docs/img/ when asked for (``make screenshots``), else a
    temporary folder (every run still takes them)."""
    return DOCS_IMG if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path

CHARTS_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(function (p) {
  var points = 0;
  (p._fullData || []).forEach(function (t) {
    (t.x || []).forEach(function (v, i) { var y = (t.y || [])[i]; if (v !== null && y !== null && y !== undefined) points++; });
  });
  return {id: p.id, traces: (p._fullData || []).length, points: points,
          drawn: p.querySelectorAll('.trace, .point, .bars path, .scatterlayer path').length};
});
"""


@pytest.fixture(scope="module")
def report(built_warehouse, tmp_path_factory):
    settings = built_warehouse["settings"]
    path, headline = write_run_report(built_warehouse["url"], tmp_path_factory.mktemp("report"),
                                      settings.reporting_currency, settings.lead_response_sla_hours)
    return {"path": path, "headline": headline, **built_warehouse}


def test_report_in_chromium_has_every_section_and_chart_with_data(report, tmp_path):
    html = report["path"].read_text()
    shots = _screenshots(tmp_path)
    with chromium(1400, 1000) as driver:
        driver.get(report["path"].as_uri())
        assert console_errors(driver) == []
        # self-contained: nothing loaded from anywhere but the file itself (opens offline)
        assert driver.execute_script(
            "return document.querySelectorAll('script[src], link[href], img[src], iframe').length") == 0
        assert driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)") == []
        ids = driver.execute_script(
            "return Array.from(document.querySelectorAll('section[data-section]')).map(s => s.id)")
        assert ids == list(SECTIONS)
        charts = driver.execute_script(CHARTS_JS)
        assert len(charts) == html.count('class="chart"') >= 27
        empty = [c["id"] for c in charts if c["traces"] == 0 or c["points"] == 0 or c["drawn"] == 0]
        assert empty == []
        # every metric header carries its definition; every section links docs/metrics.md
        untitled = driver.execute_script(
            "return Array.from(document.querySelectorAll('section table th[title]'))"
            ".filter(t => !t.title.trim()).map(t => t.textContent)")
        assert untitled == []
        links = driver.execute_script(
            "return Array.from(document.querySelectorAll('section')).map("
            "s => s.querySelectorAll('.foot a[href*=\"metrics.md#marts\"]').length)")
        assert all(n >= 1 for n in links), links
        # the campaign table sorts: by spend ascending on a click
        driver.execute_script("document.querySelectorAll('#campaign-table thead th')[3].click()")
        spend = driver.execute_script(
            "return Array.from(document.querySelectorAll('#campaign-table tbody tr'))"
            ".map(r => parseFloat(r.cells[3].getAttribute('data-v')))")
        assert len(spend) > 3 and spend == sorted(spend)
        if report["engine"] == "duckdb":  # one engine's pictures for the README
            assert full_page_png(driver, shots / "kpi_report_1400.png").stat().st_size > 10_000
        set_width(driver, 390)
        driver.get(report["path"].as_uri())
        assert console_errors(driver) == []
        # nothing wider than the phone: wide tables scroll inside their own box
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        widths = driver.execute_script(
            "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => p.getBoundingClientRect().width)")
        assert widths and max(widths) <= 390 and min(widths) > 100
        if report["engine"] == "duckdb":
            assert full_page_png(driver, shots / "kpi_report_390.png").stat().st_size > 10_000


def test_report_scorecard_and_headline_equal_ground_truth(report):
    """The tiles show the sandbox's truth for the reported month (the last complete one), and
    the headline names that month and the one before."""
    want = {r["month"]: r for r in truth.kpi_scorecard_monthly(report["world"])}
    h = report["headline"]
    months = sorted(want)
    month = next(m for m in reversed(months) if f"{m:%B %Y}" == h["period"])
    assert h["compared_with"] == f"{months[months.index(month) - 1]:%B %Y}"
    assert h["currency"] == report["settings"].reporting_currency
    for k in h["kpis"]:
        expected = want[month][k["key"]]
        if expected is None:
            assert k["value"] is None, k
        else:
            assert math.isclose(float(k["value"]), float(expected), rel_tol=1e-9, abs_tol=0.005), k
    html = report["path"].read_text()
    for k in h["kpis"]:
        assert f'data-kpi="{k["key"]}"' in html
    md = markdown_summary("run-x", [], ["kpi_channel_daily"], {"headline": h, "report_path": str(report["path"])})
    assert h["period"] in md and h["currency"] in md and "Unattributed leads" in md


def test_report_data_is_plain_numbers_on_both_engines(report):
    """PostgreSQL returns numeric as Decimal: the report's data holds floats only (issue 13 saw
    float / Decimal fail on PostgreSQL)."""
    from decimal import Decimal

    from revops.load.warehouse import Warehouse
    from revops.report import data as d

    with Warehouse(report["url"]) as wh:
        data = d.load(wh, "USD")
    values = [v for rows in (data.scorecard, data.targets, data.funnel, data.campaigns, data.lead_quality,
                             data.response_owners, data.pipeline, data.attribution,
                             data.health["coverage_by_channel"]) for r in rows for v in r.values()]
    assert values and not [v for v in values if isinstance(v, Decimal)]


def test_data_health_names_stale_sources_quarantine_and_unattributed_campaigns(report, tmp_path):
    """The health section's other branches, on the warehouse's own data plus what a bad night
    would add (a stale source from the freshness mart, quarantined rows, leads whose
    utm_campaign matches no campaign): each is named in the page and in the headline."""
    import dataclasses

    from revops.load.warehouse import Warehouse
    from revops.report import data as d
    from revops.report.html import render_report
    from revops.report.summary import headline, health_lines

    with Warehouse(report["url"]) as wh:
        data = d.load(wh, "USD")
    now = data.health["freshness"][0]["last_success_at"]
    health = {**data.health, "freshness_from": "marts.kpi_data_freshness", "stale_sources": ["meta"],
              "freshness": [{"source": "meta", "kind": "ads", "last_success_at": now, "last_attempt_at": now,
                             "status": "failed", "is_stale": True, "error": "AuthError: token revoked",
                             "rows_last_success": 10}],
              "quarantine_total": 3, "quarantine_last_run": 2,
              "quarantine_reasons": [{"source": "offline", "stream": "spend_lines", "reasons": "bad date", "n": 3}],
              "unattributed_top": [{"utm_campaign": "old-spring-promo", "leads": 90}],
              "unresolved_utm_leads": 90}
    bad = dataclasses.replace(data, health=health)
    html = render_report(bad, tmp_path / "r.html")
    for text in ("Stale sources: meta", "AuthError: token revoked", "old-spring-promo", "bad date"):
        assert text in html, text
    lines = " ".join(health_lines(headline(bad)))
    assert "Stale sources: meta." in lines and "old-spring-promo (90)" in lines and "2 in the last run" in lines


def test_headline_says_what_moved_since_the_previous_run(report, tmp_path):
    """A run's headline compares with the previous run's report of the same month
    (ops.run_headlines): nothing moved between two reports of the same marts; a previous run
    that reported 7 fewer leads shows +7."""
    import json
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from revops.load.warehouse import Warehouse

    url, currency = report["url"], report["settings"].reporting_currency
    _, first = write_run_report(url, tmp_path, currency, run_id="run-a")
    _, second = write_run_report(url, tmp_path, currency, run_id="run-b")
    assert second["previous_run"] == "run-a"
    assert [k["since_run_text"] for k in second["kpis"] if k["value"] is not None] == \
        ["no change"] * len([k for k in second["kpis"] if k["value"] is not None])
    leads = next(k for k in second["kpis"] if k["key"] == "leads")
    assert leads["value"] >= 7
    with Warehouse(url) as wh, wh.engine.begin() as conn:
        conn.execute(text("insert into ops.run_headlines (run_id, recorded_at, period, kpis) values "
                          "('run-c', :at, :p, :k)"),
                     {"at": datetime.now(UTC) + timedelta(minutes=1), "p": second["period"],
                      "k": json.dumps({"leads": leads["value"] - 7})})
    _, third = write_run_report(url, tmp_path, currency, run_id="run-d")
    moved = {k["key"]: k for k in third["kpis"]}
    assert third["previous_run"] == "run-c"
    assert moved["leads"]["since_run"] == 7 and moved["leads"]["since_run_text"] == "+7"
    assert moved["spend"]["since_run"] is None  # run-c did not report spend
    md = markdown_summary("run-d", [], ["kpi_channel_daily"], {"headline": third})
    assert "since the previous run" in md and "| +7 |" in md
