"""The world ends at the clock the run is given (issue 15): a demo world longer than the time
since the default start date used to run past today, and the connectors, which read up to the
wall clock, never read its last months (``--days 365`` loaded about half the spend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.registry import get_spec


@pytest.mark.parametrize("clock", [
    datetime(2026, 12, 4, 22, 15, tzinfo=UTC),
    datetime(2026, 12, 4, 8, 0, tzinfo=UTC),
    datetime(2027, 3, 1, 0, 0, tzinfo=UTC),
])
@pytest.mark.parametrize("days", [30, 90, 186, 365, 730])
def test_world_is_complete_by_the_clock(clock, days):
    cfg = WorldConfig.ending_by(clock, days=days, seed=7)
    world_now = datetime.combine(cfg.start + timedelta(days=days + 1), datetime.min.time(), UTC) \
        + timedelta(hours=12)
    assert cfg.days == days and cfg.seed == 7
    assert world_now <= clock
    default = WorldConfig()
    # the usual start is kept whenever its world fits; otherwise the world is moved back just
    # enough (a day later would not fit)
    fits = datetime.combine(default.start + timedelta(days=days + 1), datetime.min.time(), UTC) \
        + timedelta(hours=12) <= clock
    if fits:
        assert cfg.start == default.start
    else:
        assert world_now + timedelta(days=1) > clock


def test_a_year_long_world_is_read_whole_by_a_wall_clock_connector():
    """A 400-day world built as the demo builds it, served by the Meta sandbox at the world's
    clock, read by the Meta connector on the wall clock (as in a demo): every day of spend."""
    cfg = WorldConfig.ending_by(datetime.now(UTC), days=400, platforms=("meta",), crms=(),
                                contacts_per_campaign_day=0.02, organic_per_day=0.0)
    world = World(cfg)
    assert world.now <= datetime.now(UTC)
    want = world.ad_days_as_of(world.now, "meta")
    assert want and max(r.day for r in want) == world.end
    with sandboxes(world, as_of=world.now) as sb:
        source = get_spec("meta").build(sb.settings(http_max_backoff_seconds=0.02))
        insights = next(s for s in source.streams if s.name == "ads_insights")
        rows = [r for batch in source.read(insights, None) for r in batch.records.to_pylist()]
    got = {(r["ad_id"], r["date_start"]): Decimal(r["spend"]) for r in rows}
    assert len(got) == len(want)
    assert max(day for _, day in got) == world.end.isoformat()
    assert sum(got.values()) == sum(r.spend for r in want)
