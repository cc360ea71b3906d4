"""The sandbox's HTTP server keeps a client's connection for its next request, as the platforms
do, without losing a request on it, and ends it when the server stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import urllib3

from revops.sandbox.registry import SANDBOXES
from revops.sandbox.server import SandboxServer
from revops.sandbox.world import World, WorldConfig

TOKEN = "sandbox-token"
#: a request the server lost (read as the previous one's leftover body) makes the client wait
#: for an answer that never comes: the test fails on this timeout instead of hanging
TIMEOUT = urllib3.Timeout(connect=2, read=5)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    world = World(WorldConfig.ending_by(datetime.now(UTC), days=5, seed=3, platforms=(), crms=("hubspot",)))
    with SandboxServer(SANDBOXES["hubspot"].app(world, token=TOKEN)) as srv:
        yield srv


def _search(pool: urllib3.PoolManager, url: str, limit: int) -> urllib3.BaseHTTPResponse:
    body = json.dumps({"limit": limit, "properties": ["email"], "sorts": [{"propertyName": "hs_object_id",
                                                                            "direction": "ASCENDING"}]})
    return pool.urlopen("POST", f"{url}/crm/v3/objects/contacts/search", body=body, timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})


def test_requests_with_and_without_bodies_share_one_connection(server: SandboxServer):
    pool = urllib3.PoolManager(retries=False)
    before = len(server.app.log)
    answers = [_search(pool, server.url, 3),
               pool.urlopen("GET", f"{server.url}/crm/v3/owners", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {TOKEN}"}),
               _search(pool, server.url, 2)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert [len(a.json()["results"]) for a in answers] == [3, len(answers[1].json()["results"]), 2]
    assert all(a.headers.get("Connection") != "close" for a in answers)
    assert pool.connection_from_url(server.url).num_connections == 1  # one TCP connection for all three
    # each request arrived whole: the bodies as sent, none read into another request
    assert [(r.method, (r.body or {}).get("limit")) for r in server.app.log[before:]] == [
        ("POST", 3), ("GET", None), ("POST", 2)]


def test_a_client_asking_to_close_gets_its_connection_closed(server: SandboxServer):
    pool = urllib3.PoolManager(retries=False)
    for _ in range(2):  # the second on a new connection (urllib3 reconnects the closed one)
        answer = pool.urlopen("GET", f"{server.url}/crm/v3/owners", timeout=TIMEOUT,
                              headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"})
        assert answer.status == 200 and answer.json()["results"]
        assert answer.headers.get("Connection") == "close"


def test_stopping_the_server_ends_kept_connections():
    world = World(WorldConfig.ending_by(datetime.now(UTC), days=5, seed=3, platforms=(), crms=("hubspot",)))
    srv = SandboxServer(SANDBOXES["hubspot"].app(world, token=TOKEN)).start()
    pool = urllib3.PoolManager(retries=False)
    assert _search(pool, srv.url, 1).status == 200
    srv.stop()
    # the kept connection is closed, and a new one is refused: no answer from a stopped server
    with pytest.raises((urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError)):
        _search(pool, srv.url, 1)
