"""Transport faults on every source (generated over the registry, like tests/sources/test_contract.py,
whose fixtures and reader it reuses): a gateway's 429 without Retry-After, its 502 and 503 HTML
pages, a connection dropped without a response, a read that times out. Each is retried and the read
ends equal to the sandbox: nothing lost, nothing duplicated. Connector level: no warehouse."""

from __future__ import annotations

import pytest

from revops.sandbox.server import TRANSPORT_FAULTS
from tests.sources.test_contract import WORLD, _read, _settings, served  # noqa: F401 - fixture

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("fault", TRANSPORT_FAULTS)
def test_transport_fault_is_retried_and_loses_nothing(served, fault):  # noqa: F811
    spec, app, url = served
    # a client timeout a loaded machine's normal answers stay well under; a timeout costs it
    # once per occurrence, so read_timeout comes once per place rather than twice
    app.timeout_seconds = 1.5
    source = spec.build(_settings(spec, url).model_copy(update={"http_timeout_seconds": 0.6}))
    times = 1 if fault == "read_timeout" else 2
    # on the first stream's first requests, then again after a few good pages
    app.faults.add(fault, times=times)
    app.faults.add(fault, times=times, after=3)
    rows, _, counts = _read(source)
    for stream in source.streams:
        assert set(rows[stream.name]) == app.expected_keys(stream.name), stream.table
        assert counts[stream.name] == len(rows[stream.name]), f"{stream.table}: duplicate keys"
    # a source with few requests (the offline folder) may not reach the second pair
    served = 2 * times - sum(item.times for item in app.faults._items)
    assert served >= times and source.client.stats["retries"] >= served
