"""Paging faults on every source that pages, connector level, each in its platform's own wire
format: an empty page that still carries a next cursor, a cursor the server repeats, a page size
the server silently lowers. Every record is read (nothing lost); a page read twice is the same
records (they merge on the key in raw); a cursor that keeps repeating stops with a clear error
instead of reading forever. HubSpot: search (keyset paging) and the list endpoints (owners,
recycle bin, forms); LinkedIn: ``metadata.nextPageToken`` of the entity finders; Meta: ``paging.next`` on campaigns
and insights; Salesforce: ``nextRecordsUrl`` of every query."""

from __future__ import annotations

import pytest

from revops.sandbox.registry import get_sandbox
from revops.sandbox.server import PAGING_FAULTS, SandboxServer
from revops.sources.errors import FatalAPIError
from revops.sources.registry import get_spec
from tests.sources.test_contract import TOKEN, WORLD, _read, _settings

pytestmark = pytest.mark.faults

#: per platform, the endpoints that page (the first must be served: it pages on every read)
PATHS = {
    "hubspot": ("/search", "/crm/v3/owners", "archived=true"),
    "linkedin": ("/creatives", "/adCampaigns", "/adCampaignGroups"),  # analytics does not page
    "meta": ("/insights", "/campaigns"),
    "salesforce": ("/query",),  # query and queryAll, first pages and queryMore locators
}
#: settings that make a platform page at all on the small test world
EXTRA = {"linkedin": {"REVOPS_LINKEDIN_PAGE_SIZE": "2"}}
#: per platform, an endpoint whose cursor keeps repeating, and the stream that reads it
LOOPING = {
    "hubspot": ("/crm/v3/owners", "owners"),
    "linkedin": ("/creatives", "creatives"),
    "meta": ("/insights", "ads_insights"),
    "salesforce": ("/query", "leads"),
}




@pytest.fixture(params=sorted(PATHS))
def paged(request):
    app = get_sandbox(request.param).app(WORLD, token=TOKEN)
    with SandboxServer(app) as server:
        spec = get_spec(request.param)
        yield request.param, app, spec.build(_settings(spec, server.url, EXTRA.get(request.param)))


@pytest.mark.parametrize("fault", PAGING_FAULTS)
def test_paging_fault_loses_nothing(paged, fault):
    platform, app, source = paged
    for path in PATHS[platform]:
        app.faults.add(fault, times=2, path=path, after=1)
    rows, _, _ = _read(source)
    for stream in source.streams:
        assert set(rows[stream.name]) == app.expected_keys(stream.name), stream.table
    first = PATHS[platform][0]
    assert not [f for f in app.faults._items if f.path == first], f"the {first} fault was not served"


@pytest.mark.parametrize("platform", sorted(LOOPING))
def test_a_cursor_that_keeps_repeating_stops_with_a_clear_error(platform):
    path, name = LOOPING[platform]
    app = get_sandbox(platform).app(WORLD, token=TOKEN)
    with SandboxServer(app) as server:
        source = get_spec(platform).build(_settings(get_spec(platform), server.url, EXTRA.get(platform)))
        app.faults.add("repeat_cursor", times=10_000, path=path, after=0)
        stream = next(s for s in source.streams if s.name == name)
        with pytest.raises(FatalAPIError, match="cursor"):
            for _ in source.read(stream, None):
                pass
        assert 2 < len(app.requests_to(path)) < 10
