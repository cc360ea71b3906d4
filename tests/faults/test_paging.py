"""Paging faults on the CRM (HubSpot, the source every funnel mart reads), connector level: an
empty page that still carries a next cursor, a cursor the server repeats, a page size the server
silently lowers. Every record is read (nothing lost); a page read twice is the same records
(they merge on the key in raw); a cursor that keeps repeating stops with a clear error instead of
reading forever. Search (keyset paging) and the list endpoints (owners, recycle bin, forms)."""

from __future__ import annotations

import pytest

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import PAGING_FAULTS, SandboxServer
from revops.sources.errors import FatalAPIError
from revops.sources.registry import get_spec
from tests.sources.test_contract import TOKEN, WORLD, _read, _settings

pytestmark = pytest.mark.faults

SPEC = get_spec("hubspot")
#: the endpoints that page: search (contacts, deals, activities), owners, the recycle bin
PATHS = ("/search", "/crm/v3/owners", "archived=true")


@pytest.fixture
def hubspot():
    app = get_sandbox("hubspot").app(WORLD, token=TOKEN)
    with SandboxServer(app) as server:
        yield app, SPEC.build(_settings(SPEC, server.url))


@pytest.mark.parametrize("fault", PAGING_FAULTS)
def test_paging_fault_loses_nothing(hubspot, fault):
    app, source = hubspot
    for path in PATHS:
        app.faults.add(fault, times=2, path=path, after=1)
    rows, _, _ = _read(source)
    for stream in source.streams:
        assert set(rows[stream.name]) == app.expected_keys(stream.name), stream.table
    assert not [f for f in app.faults._items if f.path == "/search"], "the search fault was not served"


def test_a_cursor_that_keeps_repeating_stops_with_a_clear_error(hubspot):
    app, source = hubspot
    app.faults.add("repeat_cursor", times=10_000, path="/crm/v3/owners", after=0)
    owners = next(s for s in source.streams if s.name == "owners")
    with pytest.raises(FatalAPIError, match="cursor"):
        for _ in source.read(owners, None):
            pass
    assert len(app.requests_to("/crm/v3/owners")) < 10
