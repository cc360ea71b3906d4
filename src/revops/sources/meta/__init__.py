"""Meta Ads (Marketing API Insights): ad accounts, campaigns and daily ad-level insights.

The registry entry. The sandbox is imported lazily so production code never loads werkzeug's
fake server, and the connector modules never import the sandbox (nor it them).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from revops.sources.meta.client import SECRET_ENV
from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.meta.streams import MetaSource


def build(settings: Settings) -> MetaSource:
    from revops.sources.meta.streams import MetaSource

    return MetaSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.meta.sandbox import MetaSandbox

    return MetaSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Point the connector at a sandbox: its URL, token, the world's Meta accounts and start."""
    accounts = [a.account_id for a in world.accounts if a.platform == "meta"]
    return {
        "REVOPS_META_BASE_URL": base_url,
        SECRET_ENV: token,
        "REVOPS_META_ACCOUNT_IDS": json.dumps(accounts),
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def configured(settings: Settings) -> bool:
    token = settings.meta_access_token
    return bool(token and token.get_secret_value() and settings.meta_account_ids)


SPEC = SourceSpec(
    name="meta",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=SECRET_ENV,
    small_pages_env={"REVOPS_META_PAGE_SIZE": "25"},
    configured=configured,
)

__all__ = ["SPEC"]
