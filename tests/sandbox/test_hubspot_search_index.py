"""The HubSpot sandbox answers range searches from an index (bisection per clock) instead of
testing every record per page: it must find exactly what the scan finds, in the same order."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from revops.sandbox.servers.hubspot import HubSpotSandbox, _matches, _sort, epoch_ms
from revops.sandbox.world import World, WorldConfig

WORLD = World(WorldConfig(days=30))


def scan(app: HubSpotSandbox, object_type: str, groups: list, sorts: list) -> list:
    return _sort([r for r in app._records(object_type) if _matches(groups, r["props"])], sorts)


def range_queries(app: HubSpotSandbox, object_type: str, prop: str, n: int = 60) -> list:
    """Random range filters on ``prop`` and ``hs_object_id``, bounds often equal to a record's
    own value (where GT and GTE differ), in epoch ms and in ISO form."""
    rng = random.Random(7)
    records = app._records(object_type)
    values = [r["props"][prop] for r in records if r["props"].get(prop)]
    ids = [r["id"] for r in records]
    out = []
    for i in range(n):
        filters = []
        for op in rng.sample(["GT", "GTE", "LT", "LTE"], rng.randint(1, 2)):
            value = rng.choice(values)
            if i % 3 == 0:  # a bound between two records, as ISO text
                value = (app.as_of - timedelta(days=rng.uniform(0, 40))).isoformat()
            filters.append({"propertyName": prop, "operator": op, "value": value})
        if i % 2:
            filters.append({"propertyName": "hs_object_id", "operator": rng.choice(["GT", "GTE"]),
                            "value": rng.choice(ids)})
        sorts = [[], [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                 [{"propertyName": prop, "direction": "ASCENDING"}],
                 [{"propertyName": prop, "direction": "DESCENDING"}]][i % 4]
        out.append(([{"filters": filters}], sorts))
    # the connector's first/last probes: no filter (or one bound), sorted by the date
    for direction in ("ASCENDING", "DESCENDING"):
        out.append(([], [{"propertyName": prop, "direction": direction}]))
        out.append(([{"filters": [{"propertyName": prop, "operator": "GTE", "value": values[len(values) // 2]}]}],
                    [{"propertyName": prop, "direction": direction}]))
    return out


@pytest.mark.parametrize(("object_type", "prop"), [("contacts", "lastmodifieddate"),
                                                   ("deals", "hs_lastmodifieddate"),
                                                   ("contacts", "createdate"),
                                                   ("contacts", "hs_first_outreach_date")])
def test_indexed_range_search_finds_what_the_scan_finds(object_type: str, prop: str) -> None:
    app = HubSpotSandbox(WORLD, token="t")
    checked = 0
    for groups, sorts in range_queries(app, object_type, prop):
        got = app._indexed_search(object_type, groups, sorts)
        assert got is not None, "a range query the index should answer"
        want = scan(app, object_type, groups, sorts)
        assert [r["id"] for r in got] == [r["id"] for r in want]
        checked += bool(want)
    assert checked > 20  # most queries match something: the comparison is not of empty lists


def test_the_index_follows_the_clock() -> None:
    app = HubSpotSandbox(WORLD, token="t")
    since = epoch_ms(WORLD.now - timedelta(days=20))
    groups = [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}]}]
    late = [r["id"] for r in app._indexed_search("contacts", groups, [])]
    app.as_of = WORLD.now - timedelta(days=10)
    early = [r["id"] for r in app._indexed_search("contacts", groups, [])]
    assert early == [r["id"] for r in scan(app, "contacts", groups, [])]
    assert len(early) < len(late)


def test_other_shapes_are_left_to_the_scan() -> None:
    app = HubSpotSandbox(WORLD, token="t")
    eq = [{"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}]
    two_groups = [{"filters": [{"propertyName": "createdate", "operator": "GT", "value": "0"}]}] * 2
    by_other_date = [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]
    assert app._indexed_search("contacts", eq, []) is None
    assert app._indexed_search("contacts", two_groups, []) is None
    assert app._indexed_search("contacts", two_groups[:1], by_other_date) is None


def test_keyset_pages_of_one_window_match_the_scan() -> None:
    """The connector's read: one date window paged by ``hs_object_id GT <last id>``; the window's
    sorted positions are kept between its pages (and rebuilt when another window comes between),
    and every page must still be the scan's."""
    app = HubSpotSandbox(WORLD, token="t")
    lo, hi = (str(epoch_ms(WORLD.now - timedelta(days=d))) for d in (25, 5))
    other = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": hi}]
    window = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": lo},
              {"propertyName": "lastmodifieddate", "operator": "LT", "value": hi}]
    by_id = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    last, pages, read = None, 0, []
    while True:
        filters = window + ([{"propertyName": "hs_object_id", "operator": "GT", "value": last}] if last else [])
        groups = [{"filters": filters}]
        got = [r["id"] for r in app._indexed_search("contacts", groups, by_id)[:50]]
        assert got == [r["id"] for r in scan(app, "contacts", groups, by_id)][:50]
        if pages % 2:  # another window's query between two pages of this one
            assert app._indexed_search("contacts", [{"filters": other}], by_id) is not None
        if not got:
            break
        read += got
        last, pages = got[-1], pages + 1
    assert pages > 3
    assert read == [r["id"] for r in scan(app, "contacts", [{"filters": window}], by_id)]
