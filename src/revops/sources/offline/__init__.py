"""Offline spend (events, sponsorships, print): finance's CSV files in a folder, local or
served over HTTP(S) as an nginx JSON listing.

The registry entry. The sandbox is imported lazily so production code never loads werkzeug's
fake server, and the connector modules never import the sandbox (nor it them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from revops.sources.offline.client import LOCATION_ENV, SECRET_ENV
from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.offline.streams import OfflineSource


def build(settings: Settings) -> OfflineSource:
    from revops.sources.offline.streams import OfflineSource

    return OfflineSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.offline.sandbox import OfflineSandbox

    return OfflineSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Point the connector at a sandbox: the folder URL and its bearer token."""
    from revops.sources.offline.sandbox import FOLDER

    return {LOCATION_ENV: base_url.rstrip("/") + FOLDER, SECRET_ENV: token}


def configured(settings: Settings) -> bool:
    return bool(settings.offline_spend_location)


SPEC = SourceSpec(
    name="offline",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=SECRET_ENV,
    #: one GET per file: nothing to page
    small_pages_env=None,
    configured=configured,
)

__all__ = ["SPEC"]
