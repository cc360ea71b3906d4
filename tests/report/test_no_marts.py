"""A warehouse that has not published the report's marts (no run yet, or a first night whose CRM
failed and held them) gets a plain sentence, at the end of a run and from ``revops report``,
not the first query's "relation does not exist" and a traceback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from revops.load.warehouse import Warehouse
from revops.report.data import MartsNotPublished
from revops.report.summary import markdown_summary, publish_report, write_run_report
from tests.cli.run import clean_env, error_line, revops


@pytest.fixture
def empty_warehouse(warehouse_url) -> str:
    with Warehouse(warehouse_url) as wh:
        wh.ensure_schemas()  # what a first night leaves when it publishes nothing
    return warehouse_url


def test_the_end_of_a_run_says_no_mart_is_published(empty_warehouse, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", empty_warehouse)
    monkeypatch.setenv("REVOPS_DATA_DIR", str(tmp_path))
    summary: dict = {}
    with caplog.at_level(logging.WARNING, logger="revops.report"):
        assert publish_report(summary, "run-1") is None
    assert summary["report_missing"].startswith("No KPI report: this warehouse has published no marts yet")
    assert summary["headline"] is None and summary["report_path"] is None
    assert [r.getMessage() for r in caplog.records] == [summary["report_missing"]]
    assert not any(r.exc_info for r in caplog.records)  # a sentence, not a traceback
    text = markdown_summary("run-1", [], [], summary)
    assert summary["report_missing"] in text and "could not be written" not in text
    assert not (tmp_path / "report").exists()


def test_the_missing_marts_are_named(empty_warehouse, tmp_path):
    with Warehouse(empty_warehouse) as wh, wh.engine.begin() as conn:
        conn.execute(text("create table marts.kpi_channel_daily (date_day date)"))
        conn.execute(text("create table marts.kpi_pipeline (month date)"))
    with pytest.raises(MartsNotPublished) as missing:
        write_run_report(empty_warehouse, tmp_path, "USD")
    message = str(missing.value)
    assert "marts.kpi_scorecard_monthly" in message and "marts.kpi_attribution" in message
    assert "kpi_channel_daily" not in message and "kpi_pipeline" not in message


def test_revops_report_on_an_empty_warehouse_is_one_line(duckdb_url, tmp_path):
    with Warehouse(duckdb_url) as wh:
        wh.ensure_schemas()
    proc = revops("report", env=clean_env(tmp_path, REVOPS_WAREHOUSE_URL=duckdb_url), cwd=tmp_path, timeout=120)
    assert proc.returncode != 0
    line = error_line(proc)
    assert "No KPI report: this warehouse has published no marts yet" in line, line
    assert "does not exist" not in proc.stderr
