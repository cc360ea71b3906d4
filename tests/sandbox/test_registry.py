"""The sandbox's registry stays in step with the production registry and loads no server until
one is built."""

from __future__ import annotations

import subprocess
import sys

from revops.sandbox.registry import SANDBOXES, all_sandboxes
from revops.sources.registry import SOURCE_NAMES


def test_sandbox_registry_has_exactly_the_production_sources():
    assert set(SANDBOXES) == set(SOURCE_NAMES)
    assert [s.name for s in all_sandboxes()] == list(SOURCE_NAMES)
    assert all(name == spec.name for name, spec in SANDBOXES.items())


def test_every_server_lives_in_sandbox_servers_named_like_its_source():
    for spec in all_sandboxes():
        module, _, cls = spec.server.partition(":")
        assert module == f"revops.sandbox.servers.{spec.name}" and cls, spec.server


def test_servers_are_imported_only_when_an_app_is_built():
    code = (
        "import sys, revops.sandbox.registry, revops.sandbox.harness; "
        "print(sorted(m for m in sys.modules if m.startswith('revops.sandbox.servers.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_sandboxes_only_starts_the_named_servers():
    """``only``: the servers of those sources alone (the large bench serves each in a process
    of its own), with the variables that reach them and no others'."""
    import requests

    from revops.sandbox.harness import sandboxes
    from revops.sandbox.world import World, WorldConfig

    world = World(WorldConfig(days=3, contacts_per_campaign_day=0.2))
    with sandboxes(world, only={"ecb", "offline"}) as sb:
        assert set(sb.servers) == {"ecb", "offline"}
        assert any(k.startswith("REVOPS_ECB_") for k in sb.env)
        assert not any(k.startswith(("REVOPS_META_", "REVOPS_HUBSPOT_")) for k in sb.env)
        for server in sb.servers.values():  # each answers over HTTP (any status: it is up)
            assert requests.get(server.url, timeout=5).status_code
    with sandboxes(world) as everything:
        assert set(everything.servers) > {"ecb", "offline", "meta", "hubspot"}
