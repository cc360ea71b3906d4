"""HubSpot's streams read side by side (``HubSpotSource.stream_workers``, ``pipeline.sync_source``):
the same rows and states as one at a time, results in the declared order, and a stream that fails
stops the source without losing what the other stream loaded."""

from __future__ import annotations

import pytest

from revops import pipeline
from revops.load.warehouse import Warehouse
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.errors import FatalAPIError
from revops.sources.hubspot.streams import HubSpotSource

WORLD = World(WorldConfig(seed=5, days=30, platforms=("meta",), crms=("hubspot",)))


def _sync(sb, url: str, tmp_path, **kwargs):
    settings = sb.settings(warehouse_url=url, data_dir=tmp_path / "data", http_max_backoff_seconds=0.05)
    wh, run_id = pipeline.prepare(settings, "test")
    try:
        return pipeline.sync_source(settings, wh, run_id, "hubspot", **kwargs)
    finally:
        wh.dispose()


def _raw(url: str, table: str) -> list[dict]:
    with Warehouse(url) as wh:
        rows = wh.fetch_all(f'select * exclude (_loaded_at, _load_id) from raw."{table}"')
    return sorted(rows, key=repr)


def test_side_by_side_loads_what_one_at_a_time_loads(tmp_path, monkeypatch):
    assert HubSpotSource.stream_workers > 1
    urls = {w: f"duckdb:///{tmp_path / f'w{w}.duckdb'}" for w in (1, 2)}
    results = {}
    with sandboxes(WORLD) as sb:
        results[2] = _sync(sb, urls[2], tmp_path)
        monkeypatch.setattr(HubSpotSource, "stream_workers", 1)
        results[1] = _sync(sb, urls[1], tmp_path)
    names = {w: [s.stream for s in r.streams] for w, r in results.items()}
    assert names[2] == names[1]  # the declared order, whatever finished first
    for w in (1, 2):
        assert {s.stream: s.rows_loaded for s in results[w].streams} == \
            {s.stream: s.rows_loaded for s in results[1].streams}
    assert sum(s.rows_loaded for s in results[2].streams) > 0
    for stream in ("contacts", "form_submissions", "deals", "meetings"):
        assert _raw(urls[2], f"hubspot__{stream}") == _raw(urls[1], f"hubspot__{stream}"), stream
    for w in (1, 2):
        with Warehouse(urls[w]) as wh:
            results[w] = wh.fetch_all("select stream, state from ops.sync_state order by 1")
    assert results[2] == results[1] and results[2]


def test_a_failing_stream_stops_the_source_and_keeps_the_other_streams_rows(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    with sandboxes(WORLD) as sb:
        # form submissions are refused (a scope the app lacks): fatal, not retried
        sb.app("hubspot").faults.add("missing_scopes", times=1_000, path="/form-integrations/")
        with pytest.raises(FatalAPIError, match="scope"):
            _sync(sb, url, tmp_path)
    with Warehouse(url) as wh:
        loaded = {r["stream"] for r in wh.fetch_all("select stream from ops.run_streams")}
        contacts = wh.scalar('select count(*) from raw."hubspot__contacts"')
        submissions = wh.scalar('select count(*) from raw."hubspot__form_submissions"')
    assert contacts > 0 and "contacts" in loaded
    assert submissions == 0 and "form_submissions" not in loaded
