"""core.dim_contact and core.fct_deal name their company (core.dim_company.company_key), on the
shared HubSpot warehouse, both engines: each is the world's company, computed here from the
world's deals as the HubSpot sandbox's README documents companies (tests/sources/hubspot_ids),
never through the SQL. The Salesforce side is in tests/marts/test_salesforce_funnel.py."""

from __future__ import annotations

import pytest

from revops.load.warehouse import Warehouse
from tests.sources.hubspot_ids import COMPANY_ID_BASE, world_companies

#: reads the shared built warehouse: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow


def test_hubspot_contacts_and_deals_name_their_company(built_warehouse):
    world = built_warehouse["world"]
    companies = world_companies(world, world.now)
    with Warehouse(built_warehouse["url"]) as wh:
        contacts = wh.fetch_all("select contact_id, company_key from core.dim_contact where crm = 'hubspot'")
        deals = wh.fetch_all("select deal_id, company_key from core.fct_deal where crm = 'hubspot'")
        keys = {r["company_key"] for r in wh.fetch_all("select company_key from core.dim_company")}
    # a person's company: the one that names them its primary contact (the company's buyer)
    want = {w["contact"]: f"hubspot:{cid}" for cid, w in companies.items()}
    got = {r["contact_id"]: r["company_key"] for r in contacts}
    assert {k: v for k, v in got.items() if v is not None} == want
    assert set(want) <= set(got) and len(want) < len(got)  # people without a deal have none
    # a deal's company: the one its buyer's first deal made (the deal -> company association)
    by_id = {str(d.deal_id): d for d in world.deals}
    want_deals = {}
    for r in deals:
        cid = str(COMPANY_ID_BASE + by_id[r["deal_id"]].contact_id)
        want_deals[r["deal_id"]] = f"hubspot:{cid}" if cid in companies else None
    assert {r["deal_id"]: r["company_key"] for r in deals} == want_deals
    assert sum(v is not None for v in want_deals.values()) > 10
    # both reference core.dim_company (the dbt relationships tests check it in the build too)
    assert {v for v in got.values() if v} | {v for v in want_deals.values() if v} <= keys
