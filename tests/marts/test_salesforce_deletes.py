"""Salesforce deletes between two nightly runs, on DuckDB and PostgreSQL: a converted Lead (with
its Contact and Task) and a won Opportunity are deleted after the first night. After each night
the marts equal the ground truth at that clock; after the second, the deleted records sit in raw
with ``IsDeleted = 'true'`` (no ``MasterRecordId``: a delete, not a merge) and are gone from core.

Real HTTP to the sandboxes, real warehouse, real dbt: the pipeline of the nightly flow.
"""

from __future__ import annotations

from datetime import timedelta

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox import truth, truth_funnel, truth_sales
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.salesforce.sandbox import sf_id
from tests.kpi_compare import diff_rows, fetch_like

WORLD = World(WorldConfig(seed=8, days=40, contacts_per_campaign_day=0.6, crms=("salesforce",),
                          rename_campaigns=False))
FIRST = WORLD.now - timedelta(days=6)
_with_deal = {d.contact_id for d in WORLD.deals}
#: deleted between the two nights (set before anything reads the world's touches/activities)
GONE_LEAD = next(
    c for c in WORLD.contacts
    if c.merged_into is None and not c.absorbed and c.contact_id not in _with_deal
    and c.deleted_at is None and c.stage_at.get("sql") and c.stage_at["sql"] < FIRST
    and c.first_sales_touch_at and c.first_sales_touch_at < FIRST
)
GONE_LEAD.deleted_at = FIRST + timedelta(days=1)
GONE_DEAL = next(
    d for d in WORLD.deals
    if d.deleted_at is None and d.is_won and d.close_at is not None and d.close_at < FIRST
)
GONE_DEAL.deleted_at = FIRST + timedelta(days=2)

MARTS = {
    "kpi_funnel_monthly": (truth_funnel.kpi_funnel_monthly, ("cohort_month", "channel", "campaign_id")),
    "kpi_lead_quality": (truth_funnel.kpi_lead_quality, ("mql_cohort_month", "channel", "campaign_id")),
    "kpi_pipeline": (truth_sales.kpi_pipeline, ("month", "pipeline", "channel")),
    "kpi_scorecard_monthly": (truth.kpi_scorecard_monthly, ("month",)),
}


def _marts_equal_truth(url: str, as_of) -> None:
    with Warehouse(url) as wh:
        for name, (fn, keys) in MARTS.items():
            want = fn(WORLD, as_of=as_of)
            got = fetch_like(wh, name, want)
            assert len(got) == len(want), name
            assert diff_rows(got, want, keys) == [], name


def test_deletes_between_nights_leave_the_marts(warehouse_url, tmp_path) -> None:
    lead, contact = sf_id("00Q", GONE_LEAD.contact_id), sf_id("003", GONE_LEAD.contact_id)
    task, opp = sf_id("00T", GONE_LEAD.contact_id), sf_id("006", GONE_DEAL.deal_id)
    with sandboxes(WORLD, as_of=FIRST) as sb:
        settings = sb.settings(warehouse_url=warehouse_url, data_dir=tmp_path / "data",
                               http_max_backoff_seconds=0.05)
        pipeline.run_once(settings, "test")
        _marts_equal_truth(warehouse_url, FIRST)
        with Warehouse(warehouse_url) as wh:
            assert wh.scalar(f"select count(*) from core.dim_contact where contact_id = '{lead}'") == 1
            assert wh.scalar(f"select count(*) from core.fct_deal where deal_id = '{opp}'") == 1

        sb.set_clock(WORLD.now)
        pipeline.run_once(settings, "test")
        _marts_equal_truth(warehouse_url, WORLD.now)

    def raw(table: str, record_id: str) -> list[dict]:
        return wh.fetch_all(f'select "IsDeleted" as d, "SystemModstamp" as m from raw."{table}" '
                            f"where \"Id\" = '{record_id}'")

    with Warehouse(warehouse_url) as wh:
        stamp = "+0000"
        assert raw("salesforce__leads", lead)[0]["d"] == "true"
        assert raw("salesforce__contacts", contact)[0]["d"] == "true"
        assert raw("salesforce__tasks", task)[0]["d"] == "true"
        assert raw("salesforce__opportunities", opp)[0]["d"] == "true"
        assert raw("salesforce__opportunity_contact_roles", sf_id("00K", GONE_DEAL.deal_id))[0]["d"] == "true"
        moved = raw("salesforce__leads", lead)[0]["m"]
        assert moved.startswith(GONE_LEAD.deleted_at.strftime("%Y-%m-%dT%H:%M:%S")) and moved.endswith(stamp)
        masters = wh.fetch_all('select "MasterRecordId" as m from raw."salesforce__leads" '
                               f"where \"Id\" = '{lead}'")
        assert masters == [{"m": None}], "a delete, not a merge"
        assert wh.scalar(f"select count(*) from core.dim_contact where contact_id = '{lead}'") == 0
        assert wh.scalar(f"select count(*) from core.fct_deal where deal_id = '{opp}'") == 0
        # the deal's person stays a customer: deleting the deal does not undo the stage
        person = sf_id("00Q", GONE_DEAL.contact_id)
        row = wh.fetch_all(f"select customer_at from core.dim_contact where contact_id = '{person}'")
        assert len(row) == 1 and row[0]["customer_at"] is not None
