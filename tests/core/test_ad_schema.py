"""The unified ad schema: every platform in one shape, one currency, days users can trust, and
campaign names that survive renames. Checked against the sandbox world on both engines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest

from revops.load.warehouse import Warehouse
from revops.sandbox.world import AD_PLATFORMS
from tests.sources.hubspot_ids import hs_id

#: builds a warehouse through dbt: in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

#: the pinned day convention of each platform (docs/architecture.md, "Whose day is date_day")
DAY_BASIS = {
    "meta": "account",
    "google_ads": "account",
    "linkedin": "utc",
    "microsoft_ads": "utc",
    "offline": "calendar",
}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def test_every_platform_lands_at_one_grain(built_warehouse):
    world = built_warehouse["world"]
    with Warehouse(built_warehouse["url"]) as wh:
        got = wh.fetch_all(
            "select platform, count(*) as n, count(distinct currency) as currencies,"
            " sum(spend_native) as native from core.fct_ad_daily group by platform"
        )
    by_platform = {r["platform"]: r for r in got}
    assert set(by_platform) == set(AD_PLATFORMS)
    for platform in AD_PLATFORMS:
        rows = world.ad_days_as_of(world.now, platform)
        assert by_platform[platform]["n"] == len(rows), platform
        want = sum((r.spend for r in rows), Decimal(0))
        assert abs(Decimal(str(by_platform[platform]["native"])) - want) < Decimal("0.005"), platform
    currencies = {world.currency_of(r.ad) for p in AD_PLATFORMS for r in world.ad_days_as_of(world.now, p)}
    assert len(currencies) >= 3, "the world must spend in at least three currencies"


@pytest.mark.parametrize("kind", ["ad_daily", "accounts", "campaigns"])
def test_the_platforms_staging_models_give_each_column_one_type(built_warehouse, kind):
    """The core layer unions stg_<platform>__<kind>: PostgreSQL pushes a condition on the union
    (an incremental build's "loaded since", macros/incremental.sql) into each platform's select
    only when every platform gives the column the same type (Meta's text against the others'
    varchar made it compute every row first)."""
    with Warehouse(built_warehouse["url"]) as wh:
        got = wh.fetch_all(
            "select table_name, column_name, data_type from information_schema.columns"
            f" where table_schema = 'staging' and table_name like 'stg_%\\_\\_{kind}' escape '\\'")
    types: dict[str, dict[str, str]] = {}
    for r in got:
        platform = r["table_name"].removeprefix("stg_").removesuffix(f"__{kind}")
        if platform in AD_PLATFORMS:
            types.setdefault(r["column_name"], {})[platform] = r["data_type"]
    assert set(types) >= {"platform", "account_id"}
    assert all(len(by) == len(AD_PLATFORMS) for by in types.values()), types
    mixed = {column: by for column, by in types.items() if len(set(by.values())) > 1}
    assert mixed == {}


def test_each_row_records_whose_day_it_is(built_warehouse):
    world = built_warehouse["world"]
    with Warehouse(built_warehouse["url"]) as wh:
        got = wh.fetch_all(
            "select distinct platform, account_id, date_day_basis, date_day_timezone from core.fct_ad_daily"
        )
    zones = {(a.platform, a.account_id): a.day_zone for a in world.accounts}
    assert {r["platform"]: r["date_day_basis"] for r in got} == DAY_BASIS
    for r in got:
        want_zone = None if r["date_day_basis"] == "calendar" else zones[(r["platform"], r["account_id"])]
        assert r["date_day_timezone"] == want_zone, r
    assert len({z for z in zones.values()}) >= 3, "at least three time zones"


def test_spend_converts_at_the_ecb_rate_of_its_own_day(built_warehouse):
    """Every row's fx_rate is the world's ECB cross rate of the last publication on or before
    its day: weekends take Friday's, never an average, never the run day's."""
    world = built_warehouse["world"]
    settings = built_warehouse["settings"]
    with Warehouse(built_warehouse["url"]) as wh:
        rows = wh.fetch_all(
            "select date_day, currency, fx_rate, fx_rate_date, spend, spend_native from core.fct_ad_daily"
        )
    weekend = converted = 0
    for r in rows:
        if r["currency"] == settings.reporting_currency:  # needs no rate: only rounded to cents
            assert r["fx_rate_date"] is None and float(r["fx_rate"]) == 1.0, r
            assert r["spend"] == Decimal(r["spend_native"]).quantize(Decimal("0.01"), ROUND_HALF_UP), r
            continue
        converted += 1
        rate_date, _ = world.fx_rate(r["currency"], r["date_day"], world.now)
        assert r["fx_rate_date"] == rate_date, r
        want = world.to_currency(Decimal(1), r["currency"], settings.reporting_currency, r["date_day"], world.now)
        assert float(r["fx_rate"]) == pytest.approx(float(want), rel=1e-12), r
        # exact: native x rate, rounded once to cents, half away from zero (docs/metrics.md, Money)
        _, from_rate = world.fx_rate(r["currency"], r["date_day"], world.now)
        to_rate = (Decimal(1) if settings.reporting_currency == "EUR"
                   else world.fx_rate(settings.reporting_currency, rate_date, world.now)[1])
        exact = Fraction(Decimal(r["spend_native"])) * Fraction(to_rate) / Fraction(from_rate)
        cents = (abs(exact) * 100 * 2 + 1) // 2 * (1 if exact >= 0 else -1)
        assert r["spend"] == Decimal(int(cents)) / 100, r
        if r["date_day"].weekday() >= 5:
            weekend += 1
            assert r["fx_rate_date"] < r["date_day"]
    assert converted > 0 and weekend > 0, "the world must convert spend on weekends for this test to mean anything"


def test_renamed_campaign_keeps_one_id_and_every_name(built_warehouse):
    world = built_warehouse["world"]
    renamed = [c for c in world.campaigns if c.renames]
    assert {c.platform for c in renamed} >= {"meta", "google_ads"}
    with Warehouse(built_warehouse["url"]) as wh:
        for camp in renamed:
            history = wh.fetch_all(
                "select campaign_name, valid_from, valid_to, is_current from core.dim_campaign_name_history"
                f" where platform = '{camp.platform}' and campaign_id = '{camp.campaign_id}' order by valid_from"
            )
            assert [h["campaign_name"] for h in history] == [camp.name, camp.current_name]
            assert history[0]["valid_to"] == history[1]["valid_from"]
            assert [h["is_current"] for h in history] == [False, True]
            current = wh.scalar(
                f"select campaign_name from core.dim_campaign where campaign_id = '{camp.campaign_id}'"
            )
            assert current == camp.current_name
            shown = wh.fetch_all(
                f"select distinct campaign_name from marts.kpi_channel_daily where campaign_id = '{camp.campaign_id}'"
            )
            assert [r["campaign_name"] for r in shown] == [camp.current_name]
            # leads whose UTM still carries the old name resolve to the campaign through history
            old_name_leads = [
                c.contact_id
                for c in world.contacts_as_of(world.now)
                if c.source_campaign is camp and c.utm_campaign and _norm(c.utm_campaign) == _norm(camp.name)
            ]
            assert old_name_leads, "the world must have leads tagged with the old name"
            # HubSpot's id of the person today (a merge mints a new one)
            ids = ", ".join(f"'{hs_id(world, i, world.now)}'" for i in old_name_leads)
            resolved = wh.fetch_all(
                f"select source_campaign_id from core.dim_contact where cast(contact_id as varchar) in ({ids})"
            )
            assert [r["source_campaign_id"] for r in resolved] == [camp.campaign_id] * len(old_name_leads)
