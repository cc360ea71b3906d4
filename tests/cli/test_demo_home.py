"""``revops demo`` keeps each world in a folder of its own (warehouse, sync state, dbt target,
report): a world of another seed, size or start date is another company, and a warehouse
holds one. ``tests/test_flow_e2e.py`` runs the demo itself into that folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from revops.cli import demo_home
from revops.sandbox.world import WorldConfig


def test_each_world_has_its_own_folder():
    data = Path("data")
    now = datetime(2026, 12, 4, 9, tzinfo=UTC)
    configs = [WorldConfig.ending_by(now, seed=seed, days=days)
               for seed, days in ((3, 15), (3, 20), (4, 15), (42, 90), (42, 400))]
    homes = [demo_home(data, c) for c in configs]
    assert len(set(homes)) == len(homes)
    assert homes[0] == data / "demo" / "seed3-days15"
    assert all(h.parent == data / "demo" for h in homes)
    # the same world again (the same clock, or a later one that still fits it): the same folder
    assert demo_home(data, WorldConfig.ending_by(now + timedelta(days=1), seed=3, days=15)) == homes[0]
    # a world moved back to end by the clock is another company than the default start's
    long = configs[-1]
    assert long.start != WorldConfig().start
    assert homes[-1] == data / "demo" / f"seed42-days400-from{long.start}"
    assert demo_home(data, WorldConfig(seed=42, days=400)) != homes[-1]
