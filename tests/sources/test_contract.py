"""The contract every source passes, generated over the registry: a new source registered in
``revops.sources.registry`` gets these tests without new test code.

Real HTTP against each source's sandbox server (``revops.sandbox.registry``): full read equals the sandbox, small pages,
incremental resume with lookback, 429/5xx/truncated-body retries, expired token, schema."""

from __future__ import annotations

from datetime import timedelta

import pytest

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig
from revops.settings import Settings, settings_from_env
from revops.sources.errors import FatalAPIError
from revops.sources.registry import all_specs

# longer than Meta's default 28-day lookback, so a resume is visibly smaller than a full read
# No renames here: ad rows outside the lookback keep the campaign name they were read with,
# by design (core takes names from the campaign lists and their history), so a resume would
# differ from a full read in denormalised names only. Renames: tests/core/test_ad_schema.py.
WORLD = World(WorldConfig(seed=21, days=45, rename_campaigns=False))
TOKEN = "contract-test-token-7f3a9c"
SPECS = all_specs()


def _settings(spec, url: str, extra: dict[str, str] | None = None) -> Settings:
    env = {**get_sandbox(spec.name).env(url, TOKEN, WORLD), **(extra or {})}
    return settings_from_env(env, http_max_backoff_seconds=0.02)


@pytest.fixture(params=SPECS, ids=[s.name for s in SPECS])
def served(request):
    spec = request.param
    app = get_sandbox(spec.name).app(WORLD, token=TOKEN)
    with SandboxServer(app) as server:
        yield spec, app, server.url


def _read(source, states: dict | None = None) -> tuple[dict[str, dict[tuple, dict]], dict[str, dict], dict[str, int]]:
    """Read every stream; rows merged on the key (last wins), final states, rows extracted."""
    rows: dict[str, dict[tuple, dict]] = {}
    out_states: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for stream in source.streams:
        state = (states or {}).get(stream.name)
        merged: dict[tuple, dict] = {}
        counts[stream.name] = 0
        for batch in source.read(stream, state):
            assert batch.records.schema == stream.schema, f"{stream.table}: batch schema differs from the declared one"
            for rec in batch.records.to_pylist():
                merged[tuple(str(rec[k]) for k in stream.primary_key)] = rec
            counts[stream.name] += batch.records.num_rows
            if batch.state is not None:
                state = batch.state
        rows[stream.name] = merged
        if state is not None:
            out_states[stream.name] = state
    return rows, out_states, counts


def test_full_read_equals_the_sandbox(served):
    spec, app, url = served
    source = spec.build(_settings(spec, url))
    rows, states, counts = _read(source)
    for stream in source.streams:
        assert set(rows[stream.name]) == app.expected_keys(stream.name), stream.table
        assert rows[stream.name], f"{stream.table}: the sandbox world must have data for this test"
        # one full read yields every key once
        assert counts[stream.name] == len(rows[stream.name]), f"{stream.table}: duplicate keys in one read"
    incremental = [s.name for s in source.streams if s.cursor_field]
    assert incremental and all(s in states for s in incremental)


def test_small_pages_are_followed(served):
    spec, app, url = served
    small_pages_env = get_sandbox(spec.name).small_pages_env
    if small_pages_env is None:
        pytest.skip(f"{spec.name}: the API has nothing to page")
    source = spec.build(_settings(spec, url, small_pages_env))
    rows, _, _ = _read(source)
    for stream in source.streams:
        assert set(rows[stream.name]) == app.expected_keys(stream.name)
    # more requests than streams x accounts: paging really happened
    assert len(app.log) > 2 * len(source.streams)


def test_incremental_resume_rereads_only_the_lookback(served):
    spec, app, url = served
    settings = _settings(spec, url)
    app.as_of = WORLD.now - timedelta(days=7)
    first, states, first_counts = _read(spec.build(settings))
    app.as_of = WORLD.now
    second, _, second_counts = _read(spec.build(settings), states)
    full, _, full_counts = _read(spec.build(settings))
    restated = 0
    for stream in spec.build(settings).streams:
        merged = {**first[stream.name], **second[stream.name]}
        restated += sum(
            1 for k, rec in first[stream.name].items() if k in full[stream.name] and rec != full[stream.name][k]
        )
        if stream.cursor_field:
            # restated/updated records replace what the first run saw; records that left the
            # source in between (CRM merges, deletes) stay behind for staging to resolve
            assert set(full[stream.name]) <= set(merged), f"{stream.table}: resume lost records"
            same = {k: merged[k] for k in full[stream.name]}
            assert same == full[stream.name], f"{stream.table}: resume differs from a full read"
            assert second_counts[stream.name] < full_counts[stream.name], f"{stream.table}: not incremental"
        else:
            assert set(second[stream.name]) == app.expected_keys(stream.name)
    # the world restates recent days / updates records: the resume must have replaced them
    assert restated > 0 or not spec.restates, f"{spec.name}: no record changed between the runs; the test proves nothing"


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "truncated"])
def test_transient_failures_are_retried(served, fault):
    spec, app, url = served
    source = spec.build(_settings(spec, url))
    app.faults.add(fault, times=2)
    rows, _, _ = _read(source)
    for stream in source.streams:
        assert set(rows[stream.name]) == app.expected_keys(stream.name)
    assert source.client.stats["retries"] >= 2


def _needs_secret(spec) -> None:
    if spec.secret_env is None:
        pytest.skip(f"{spec.name}: the API takes no credential")


def test_expired_token_is_refreshed_or_stops_with_what_to_fix(served):
    """An access token expiring mid-run: OAuth sources refresh once and go on; sources without
    a refresh token stop with the variable to renew, never the token itself."""
    spec, app, url = served
    _needs_secret(spec)
    source = spec.build(_settings(spec, url))
    app.faults.add("expired_token", after=1)
    if spec.refreshes_auth:
        rows, _, _ = _read(source)
        for stream in source.streams:
            assert set(rows[stream.name]) == app.expected_keys(stream.name)
        assert source.client.stats["auth_refreshes"] >= 1
        return
    with pytest.raises(FatalAPIError) as err:
        _read(source)
    assert spec.secret_env in str(err.value)
    assert TOKEN not in str(err.value)


def test_token_that_stays_expired_stops_with_what_to_fix(served):
    spec, app, url = served
    _needs_secret(spec)
    source = spec.build(_settings(spec, url))
    app.faults.add("expired_token", times=1000)
    with pytest.raises(FatalAPIError) as err:
        _read(source)
    assert spec.secret_env in str(err.value)
    assert TOKEN not in str(err.value)
    if spec.refreshes_auth:
        assert source.client.stats["auth_refreshes"] == 1, "refresh once, then stop"


def test_wrong_token_is_fatal_not_retried(served):
    spec, app, url = served
    _needs_secret(spec)
    settings = _settings(spec, url, {spec.secret_env: "not-the-token"})
    source = spec.build(settings)
    with pytest.raises(FatalAPIError):
        _read(source)
    assert source.client.stats["retries"] == 0
