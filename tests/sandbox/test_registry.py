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
