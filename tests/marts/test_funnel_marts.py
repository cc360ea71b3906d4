"""The funnel marts (kpi_funnel_monthly, kpi_lead_quality, kpi_lead_rejection_reasons) equal the
sandbox's ground truth (revops.sandbox.truth.funnel) on DuckDB and PostgreSQL, edge cases
included, and their totals reconcile to core.dim_person (one row per person)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox.truth import funnel as truth_funnel
from tests.kpi_compare import diff_rows, fetch_like

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

FUNNEL_KEYS = ("cohort_month", "channel", "campaign_id")
QUALITY_KEYS = ("mql_cohort_month", "channel", "campaign_id")
REASON_KEYS = (*QUALITY_KEYS, "rejection_reason")
def _by_key(rows: list[dict], keys: tuple[str, ...]) -> dict[tuple, dict]:
    return {tuple(r[k] for k in keys): r for r in rows}


@pytest.fixture(scope="module")
def funnel(built_warehouse):
    """The three marts as published, with their truths, for one engine."""
    world = built_warehouse["world"]
    wh = Warehouse(built_warehouse["url"])
    try:
        out = {}
        for name, keys in (
            ("kpi_funnel_monthly", FUNNEL_KEYS),
            ("kpi_lead_quality", QUALITY_KEYS),
            ("kpi_lead_rejection_reasons", REASON_KEYS),
        ):
            want = getattr(truth_funnel, name)(world)
            assert want, f"the test world must give {name} rows"
            out[name] = {"want": want, "got": fetch_like(wh, name, want), "keys": keys}
        out["core"] = wh.fetch_all(
            "select count(lead_at) as leads, count(mql_at) as mqls,"
            " sum(case when mql_at is not null and sql_at is not null then 1 else 0 end) as accepted,"
            " sum(case when mql_at is not null and sql_at is null and rejected_at is not null"
            " then 1 else 0 end) as rejected from core.dim_person"
        )[0]
        with wh.engine.connect() as conn:
            out["columns"] = {n: wh.columns(conn, "marts", n) for n in out if n.startswith("kpi_")}
    finally:
        wh.dispose()
    return out


@pytest.mark.parametrize("name", ["kpi_funnel_monthly", "kpi_lead_quality", "kpi_lead_rejection_reasons"])
def test_mart_equals_truth(funnel, name):
    m = funnel[name]
    assert funnel["columns"][name] == list(m["want"][0]), "the mart has exactly the truth's columns"
    assert len(m["got"]) == len(m["want"])
    assert diff_rows(m["got"], m["want"], m["keys"]) == []


def test_funnel_months_without_leads_are_zero_rows(funnel):
    """Every (channel, campaign) has every month from the first to the last cohort month; where
    it had no leads the counts are 0 and the rates and medians NULL."""
    m = funnel["kpi_funnel_monthly"]
    got = _by_key(m["got"], FUNNEL_KEYS)
    empty = [r for r in m["want"] if r["leads"] == 0]
    assert empty, "the test world must have a (channel, campaign) month without leads"
    for w in empty:
        g = got[tuple(w[k] for k in FUNNEL_KEYS)]
        assert [g[c] for c in ("leads", "mqls", "sqls", "opportunities", "customers")] == [0] * 5
        rates = [c for c in g if c.endswith("_rate") or c.startswith("median_days_")]
        assert rates and all(g[c] is None for c in rates), g
    months = sorted({r["cohort_month"] for r in m["got"]})
    assert [(b.year * 12 + b.month) - (a.year * 12 + a.month) for a, b in zip(months, months[1:])] == [1] * (
        len(months) - 1
    ), "consecutive months"
    series = {(r["channel"], r["campaign_id"]) for r in m["got"]}
    assert len(m["got"]) == len(series) * len(months), "a full month x (channel, campaign) grid"


def test_funnel_zero_denominators_are_null(funnel):
    m = funnel["kpi_funnel_monthly"]
    got = _by_key(m["got"], FUNNEL_KEYS)
    steps = (("mqls", "mql_to_sql_rate", "median_days_mql_to_sql"),
             ("opportunities", "opportunity_to_customer_rate", "median_days_opportunity_to_customer"))
    for den, rate, median in steps:
        cases = [r for r in m["want"] if r["leads"] > 0 and r[den] == 0]
        assert cases, f"the test world must have a cohort with leads and {den} = 0"
        for w in cases:
            g = got[tuple(w[k] for k in FUNNEL_KEYS)]
            assert g["leads"] == w["leads"] > 0 and g[den] == 0
            assert g[rate] is None and g[median] is None
    # a rate of 0 (numerator 0, denominator > 0) is 0, not NULL; its median over nobody is NULL
    zero = [r for r in m["want"] if r["opportunities"] > 0 and r["customers"] == 0]
    assert zero, "the test world must have a cohort with opportunities but no customer yet"
    for w in zero:
        g = got[tuple(w[k] for k in FUNNEL_KEYS)]
        assert g["opportunity_to_customer_rate"] == 0 and g["median_days_opportunity_to_customer"] is None


def test_unattributed_contacts_are_campaign_none(funnel):
    for name, keys in (("kpi_funnel_monthly", FUNNEL_KEYS), ("kpi_lead_quality", QUALITY_KEYS),
                       ("kpi_lead_rejection_reasons", REASON_KEYS)):
        rows = funnel[name]["got"]
        none = [r for r in rows if r["campaign_id"] == "(none)"]
        assert none, f"{name}: the test world has organic contacts"
        assert all(r["platform"] is None and r["campaign_name"] == "(unattributed)" for r in none)
        assert all(r[k] is not None for r in rows for k in keys), f"{name}: no NULL key"
        assert all(r["platform"] is not None for r in rows if r["campaign_id"] != "(none)")


def test_lead_quality_decisions_and_no_rejection(funnel):
    m = funnel["kpi_lead_quality"]
    for r in m["got"]:
        assert r["accepted"] + r["rejected"] + r["pending"] == r["mqls"] > 0
    got = _by_key(m["got"], QUALITY_KEYS)
    unrejected = [r for r in m["want"] if r["rejected"] == 0]
    assert unrejected, "the test world must have an MQL cohort without a rejection"
    for w in unrejected:
        g = got[tuple(w[k] for k in QUALITY_KEYS)]
        assert g["rejected"] == 0 and g["top_rejection_reason"] is None
        assert g["rejection_rate"] == (0 if g["accepted"] else None)
    # sales decided on nobody: rejection rate NULL (the world may or may not have such a cohort at
    # its clock; when it has, the mart must show NULL)
    for w in (r for r in m["want"] if r["accepted"] + r["rejected"] == 0):
        assert got[tuple(w[k] for k in QUALITY_KEYS)]["rejection_rate"] is None


def test_rejection_reasons_rank_and_share(funnel):
    reasons = funnel["kpi_lead_rejection_reasons"]["got"]
    quality = _by_key(funnel["kpi_lead_quality"]["got"], QUALITY_KEYS)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in reasons:
        groups[tuple(r[k] for k in QUALITY_KEYS)].append(r)
    for key, rows in groups.items():
        rows.sort(key=lambda r: r["reason_rank"])
        assert [r["reason_rank"] for r in rows] == list(range(1, len(rows) + 1))
        assert [(-r["rejected"], r["rejection_reason"]) for r in rows] == sorted(
            (-r["rejected"], r["rejection_reason"]) for r in rows
        ), "most frequent first, ties alphabetical"
        assert sum(r["share_of_rejections"] for r in rows) == pytest.approx(1, abs=1e-9)
        assert sum(r["rejected"] for r in rows) == quality[key]["rejected"]
        assert quality[key]["top_rejection_reason"] == rows[0]["rejection_reason"]
    # every cohort with a rejection has reasons, and only those
    assert set(groups) == {k for k, r in quality.items() if r["rejected"] > 0}
    ties = [rows for rows in groups.values() if len(rows) > 1 and rows[0]["rejected"] == rows[1]["rejected"]]
    assert ties, "the test world must have a tie for the top reason (broken alphabetically)"


def test_totals_reconcile_to_core(funnel):
    core = funnel["core"]
    f = funnel["kpi_funnel_monthly"]["got"]
    q = funnel["kpi_lead_quality"]["got"]
    r = funnel["kpi_lead_rejection_reasons"]["got"]
    assert sum(x["leads"] for x in f) == core["leads"]
    # every MQL of core had a lead_at: the funnel's MQLs are the lead-quality MQLs
    assert sum(x["mqls"] for x in f) == sum(x["mqls"] for x in q) == core["mqls"]
    assert sum(x["accepted"] for x in q) == core["accepted"]
    assert sum(x["rejected"] for x in q) == sum(x["rejected"] for x in r) == core["rejected"]
    # and to the world itself
    world_leads = sum(x["leads"] for x in funnel["kpi_funnel_monthly"]["want"])
    assert core["leads"] == world_leads


def test_dbt_unit_tests_cover_what_the_world_lacks(built_warehouse, tmp_path):
    """Cases the test world does not produce at its clock (an MQL cohort sales decided nothing on,
    a contact both rejected and accepted, a rejection without reason, a month without any lead)
    are dbt unit tests in the models' yml. Nightly builds leave them out; here they run against
    the shared warehouse's models (a data dir of their own: the build's results stay as they
    were), and every one of them passes."""
    import json

    from revops.transform import unit_tests

    settings = built_warehouse["settings"].model_copy(update={"data_dir": tmp_path})
    result = unit_tests(settings)
    status = {n["unique_id"]: n["status"] for n in result.nodes}
    assert set(status.values()) == {"pass"}
    assert {n.split(".")[-1] for n in status} >= {
        "kpi_funnel_monthly_gaps_and_zero_denominators", "kpi_lead_quality_decisions",
        "kpi_lead_rejection_reasons_ranking", "dim_campaign_alias_marketer_alias_resolves_a_name_no_sync_saw"}
    assert all(n.startswith("unit_test.") for n in status)
    # and a night's build ran none of them
    built = json.loads((Path(built_warehouse["settings"].data_dir) / "dbt" / "target" / "run_results.json")
                       .read_text())["results"]
    assert built and not [r for r in built if r["unique_id"].startswith("unit_test.")]
