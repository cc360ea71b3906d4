"""ECB euro foreign exchange reference rates: the rates the warehouse converts ad spend with.

The registry entry. The ECB's files are public (no credential), unpaged, and append-only (a
published rate is never restated). The sandbox is imported lazily so production code never
loads werkzeug's fake server, and the connector modules never import the sandbox (nor it them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.ecb.streams import EcbSource


def build(settings: Settings) -> EcbSource:
    from revops.sources.ecb.streams import EcbSource

    return EcbSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.ecb.sandbox import EcbSandbox

    return EcbSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Point the connector at a sandbox (the token is unused: the files are public)."""
    from revops.sources.ecb.sandbox import PREFIX

    return {
        "REVOPS_ECB_BASE_URL": f"{base_url}{PREFIX}",
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def configured(settings: Settings) -> bool:
    """Public files: configured whenever a base URL is set (it is by default)."""
    return bool(settings.ecb_base_url)


SPEC = SourceSpec(
    name="ecb",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=None,
    small_pages_env=None,
    configured=configured,
    restates=False,
)

__all__ = ["SPEC"]
