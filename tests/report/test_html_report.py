"""The KPI report in a real browser (Debian's headless Chromium), on both engines, from the shared
``built_warehouse`` (no build of its own): no console errors, the nine sections in order, every
chart drawn with data, the scorecard equal to the sandbox's ground truth, a usable phone layout;
screenshots at 1400 and 390 px go to docs/img/ (README shows them)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from revops.report.html import SECTIONS
from revops.report.summary import markdown_summary, write_run_report
from revops.sandbox import truth
from tests.report.browser import chromium, console_errors, full_page_png, set_width

#: reads the shared warehouse built through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

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


def test_report_in_chromium_has_every_section_and_chart_with_data(report):
    html = report["path"].read_text()
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
            full_page_png(driver, DOCS_IMG / "kpi_report_1400.png")
        set_width(driver, 390)
        driver.get(report["path"].as_uri())
        assert console_errors(driver) == []
        # nothing wider than the phone: wide tables scroll inside their own box
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        widths = driver.execute_script(
            "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => p.getBoundingClientRect().width)")
        assert widths and max(widths) <= 390 and min(widths) > 100
        if report["engine"] == "duckdb":
            full_page_png(driver, DOCS_IMG / "kpi_report_390.png")


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
    md = markdown_summary("run-x", [], ["kpi_channel_daily"], h, str(report["path"]))
    assert h["period"] in md and h["currency"] in md and "Unattributed leads" in md
