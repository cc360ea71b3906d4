"""The synthetic company is deterministic, realistic enough to test what the issue names, and
its clock semantics are what the sandboxes and the ground truth rely on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from revops.sandbox import truth
from revops.sandbox.world import STAGES, World, WorldConfig

WORLD = World(WorldConfig(seed=42, days=30))


def test_same_seed_same_world_other_seed_other_world():
    again = World(WorldConfig(seed=42, days=30))
    assert truth.kpi_channel_daily(again) == truth.kpi_channel_daily(WORLD)
    other = World(WorldConfig(seed=43, days=30))
    assert truth.summary(other) != truth.summary(WORLD)


def test_accounts_differ_in_currency_and_time_zone():
    assert len({a.currency for a in WORLD.accounts}) >= 2
    assert len({a.timezone for a in WORLD.accounts}) >= 2


def test_funnel_is_ordered_and_reaches_every_stage():
    reached = {s: 0 for s in STAGES}
    for c in WORLD.contacts:
        times = [c.stage_at[s] for s in STAGES if s in c.stage_at]
        assert times == sorted(times), c.contact_id
        assert [s for s in STAGES if s in c.stage_at] == list(STAGES[: len(times)])  # no gaps
        for s in c.stage_at:
            reached[s] += 1
        if c.rejected_at:
            assert c.rejection_reason and "mql" in c.stage_at and "sql" not in c.stage_at
            assert c.rejected_at > c.stage_at["mql"]
        if c.first_sales_touch_at:
            assert c.first_sales_touch_at > c.stage_at["mql"]
    assert all(n > 0 for n in reached.values()), reached
    assert reached["lead"] > reached["mql"] > reached["sql"] > reached["opportunity"] > reached["customer"]
    assert sum(1 for c in WORLD.contacts if c.rejected_at) > 10
    assert sum(1 for c in WORLD.contacts if c.merged_into) > 0


def test_clock_hides_the_future_and_restates_recent_days():
    as_of = WORLD.now - timedelta(days=10)
    assert all(c.created_at <= as_of for c in WORLD.contacts_as_of(as_of))
    assert len(WORLD.contacts_as_of(as_of)) < len(WORLD.contacts_as_of(WORLD.now))
    early = {(r.ad.ad_id, r.day): r for r in WORLD.ad_days_as_of(as_of)}
    final = {(r.ad.ad_id, r.day): r for r in WORLD.ad_days_as_of(WORLD.now)}
    restated = [k for k in early if early[k].spend != final[k].spend]
    assert restated, "the last days before the clock must be provisional"
    tz = {a.account_id: ZoneInfo(a.timezone) for a in WORLD.accounts}
    for ad_id, day in restated:
        local_today = as_of.astimezone(tz[final[(ad_id, day)].ad.account_id]).date()
        assert (local_today - day).days < 2
        assert early[(ad_id, day)].spend < final[(ad_id, day)].spend


def test_merged_duplicate_disappears_at_its_merge():
    dup = next(c for c in WORLD.contacts if c.merged_into)
    survivor = WORLD.contact_by_id[dup.merged_into]
    before = dup.merged_at - timedelta(seconds=1)
    assert dup.visible(before) and not dup.visible(dup.merged_at)
    assert survivor.merged_ids_as_of(before, WORLD) == []
    assert survivor.merged_ids_as_of(dup.merged_at, WORLD) == [dup.contact_id]
    assert survivor.last_modified(dup.merged_at, WORLD) >= dup.merged_at


def test_truth_counts_leads_in_the_reporting_time_zone():
    """A lead created at 02:00 UTC is the previous day in New York: truth must say so."""
    ny = truth.kpi_channel_daily(WORLD, cfg=truth.TruthConfig(reporting_timezone="America/New_York"))
    utc = truth.kpi_channel_daily(WORLD, cfg=truth.TruthConfig(reporting_timezone="UTC"))
    assert sum(r["leads"] for r in ny) == sum(r["leads"] for r in utc)
    by_day = lambda rows: {(r["date_day"], r["campaign_id"]): r["leads"] for r in rows}  # noqa: E731
    assert by_day(ny) != by_day(utc)


# --------------------------------------------------------------------------- one person, two CRMs
def _story(world: World) -> list[tuple]:
    return [(c.contact_id, c.email, c.created_at, dict(c.stage_at), c.rejected_at, c.owner_id,
             c.first_sales_touch_at, c.deleted_at, c.merged_into) for c in world.contacts]


def test_overlap_adds_crm_records_not_people():
    """With two CRMs and an overlap share, people and their stories (so the truth) are those of
    the world without it; each person's stage times are the earliest across their records, and
    each record, deal, touch and activity is in exactly one CRM's view."""
    both = {"seed": 42, "days": 30, "crms": ("hubspot", "salesforce")}
    plain, overlap = World(WorldConfig(**both)), World(WorldConfig(**both, overlap_share=0.4))
    assert _story(overlap) == _story(plain)
    assert truth.kpi_channel_daily(overlap) == truth.kpi_channel_daily(plain)
    assert plain.crm_view("hubspot") is plain and not plain.twins
    assert overlap.twins and overlap.own_records
    views = {crm: overlap.crm_view(crm) for crm in ("hubspot", "salesforce")}
    records = [r for v in views.values() for r in v.contacts]
    assert len(records) == len(overlap.contacts) + len(overlap.twins)
    assert len({r.contact_id for r in records}) == len(records)
    assert sum(len(v.deals) for v in views.values()) == len(overlap.deals)
    assert sum(len(v.touches) for v in views.values()) == len(overlap.touches)
    assert sum(len(v.activities) for v in views.values()) == len(overlap.activities)
    first = {"own": 0, "twin": 0}
    for person in overlap.contacts:
        recs = overlap.records_of(person)
        if len(recs) == 2:
            first["twin" if recs[0].twin_of else "own"] += 1
            assert len({r.email for r in recs}) == 1 and recs[0].crm != recs[1].crm
        for stage in STAGES:
            times = [r.stage_at[stage] for r in recs if stage in r.stage_at]
            assert min(times, default=None) == person.stage_at.get(stage)
    assert first["twin"] > 0 and first["own"] > 0


def test_ad_days_of_a_date_range_are_the_filtered_rows_in_the_same_order() -> None:
    """The sandboxes ask ``ad_days_as_of`` for a date range (answered from an index by day):
    exactly the full list's rows of those days, in its order, whatever the bounds."""
    world = World(WorldConfig(days=40))
    as_of = world.now - timedelta(days=5)  # some days still provisional, some not there yet
    for platform in world.ad_platforms:
        rows = world.ad_days_as_of(as_of, platform)
        days = sorted({r.day for r in rows})
        n = len(days)
        for since, until in [(days[0], days[-1]), (days[n // 2], days[n // 2]), (days[n // 4], days[n // 2]),
                             (None, days[n // 3]), (days[n // 2], None), (days[-1] + timedelta(days=1), None)]:
            want = [r for r in rows if (since is None or r.day >= since) and (until is None or r.day <= until)]
            assert world.ad_days_as_of(as_of, platform, since, until) == want
        assert world.ad_days_as_of(as_of, platform, days[n // 4], days[n // 2])


def test_fx_rate_is_the_last_publication_on_or_before_the_day() -> None:
    """``fx_rate`` (answered by bisection over the kept publication dates) against the rule
    spelled out over ``fx_published_as_of``, at several clocks, for days with and without a
    publication (weekends, before the first one)."""
    world = World(WorldConfig(days=40))
    for as_of in (world.now, world.now - timedelta(days=9), world.now - timedelta(days=30)):
        published = world.fx_published_as_of(as_of)
        for offset in range(-20, 50):
            day = world.start + timedelta(days=offset)
            on_or_before = [d for d in published if d <= day]
            for currency in ("EUR", "USD", "GBP", "SEK"):
                if not on_or_before or (currency != "EUR" and currency not in published[max(on_or_before)]):
                    with pytest.raises(KeyError):
                        world.fx_rate(currency, day, as_of)
                    continue
                d = max(on_or_before)
                want = Decimal(1) if currency == "EUR" else published[d][currency]
                assert world.fx_rate(currency, day, as_of) == (d, want)


def test_changed_between_is_what_moved_in_the_interval() -> None:
    since, until = WORLD.now - timedelta(days=3), WORLD.now
    contacts, deals = WORLD.changed_between(since, until)
    changed = {c.contact_id for c in contacts}
    created = {c.contact_id for c in WORLD.contacts if since < c.created_at <= until}
    assert created and created <= changed
    staged = {c.contact_id for c in WORLD.contacts
              if any(since < t <= until for t in c.stage_at.values())}
    assert staged - created and staged <= changed
    merged = {c.contact_id for c in WORLD.contacts if c.merged_at and since < c.merged_at <= until}
    assert merged <= changed
    untouched = [c for c in WORLD.contacts
                 if max(t for t in [*c.events(), c.merged_at, c.deleted_at] if t) <= since
                 and not any(WORLD.contact_by_id[i].merged_at > since for i in c.absorbed)]
    assert untouched and not changed & {c.contact_id for c in untouched}
    assert len(changed) < len(WORLD.contacts_as_of(until)) / 2
    closed = {d.deal_id for d in WORLD.deals if d.close_at and since < d.close_at <= until}
    assert closed <= {d.deal_id for d in deals}
    assert all(d.created_at <= until for d in deals)
