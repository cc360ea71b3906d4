"""A bench renders each server's clock before the sync it measures (``SandboxApp.prerender``) and
renders it afresh for another round of the same night (``forget``, then ``prerender``). Neither
may change a single answer: the connectors read the same rows from a pre-rendered sandbox as
from one that builds everything on the first request."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.registry import get_spec

WORLD = World(WorldConfig(days=30))
#: what the pre-render builds ahead: HubSpot's records, search index, contacts by id,
#: associations and form submissions; each ad platform's rows at the clock
READ = [("hubspot", "contacts"), ("hubspot", "deals"), ("hubspot", "calls"),
        ("hubspot", "companies"), ("hubspot", "form_submissions"), ("meta", "ads_insights"),
        ("google_ads", "ad_group_ad_daily"), ("linkedin", "ad_analytics"),
        ("microsoft_ads", "ad_performance")]


def read_all(sb) -> dict[tuple[str, str], list]:
    """Every row of the streams in READ, through the connectors over HTTP, in a stable order."""
    settings = sb.settings(http_max_backoff_seconds=0.05)
    out = {}
    for source_name, stream_name in READ:
        source = get_spec(source_name).build(settings)
        stream = next(s for s in source.streams if s.name == stream_name)
        tables = [b.records for b in source.read(stream, None)]
        rows = pa.concat_tables(tables, promote_options="default").to_pylist() if tables else []
        out[(source_name, stream_name)] = sorted(rows, key=repr)
    return out


def test_prerendered_and_rerendered_clocks_answer_as_built_on_demand() -> None:
    clock = WORLD.now - timedelta(days=2)
    with sandboxes(WORLD, as_of=clock) as sb:
        on_demand = read_all(sb)
    assert all(on_demand.values()), "every stream read has rows in this world"
    with sandboxes(WORLD, as_of=WORLD.now - timedelta(days=6)) as sb:
        sb.prerender()  # what an earlier night left behind must not leak into the next clock
        read_all(sb)
        sb.set_clock(clock)
        sb.prerender()
        assert read_all(sb) == on_demand
        sb.prerender(afresh=True)
        assert read_all(sb) == on_demand
