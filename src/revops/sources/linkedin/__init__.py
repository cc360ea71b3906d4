"""LinkedIn Ads (Marketing API, versioned REST): ad accounts, campaign groups, campaigns,
creatives and daily creative-level adAnalytics (UTC days).

The registry entry. The sandbox is imported lazily so production code never loads werkzeug's
fake server, and the connector modules never import the sandbox (nor it them).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from revops.sources.linkedin.client import SECRET_ENV
from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.linkedin.streams import LinkedInSource


def build(settings: Settings) -> LinkedInSource:
    from revops.sources.linkedin.streams import LinkedInSource

    return LinkedInSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.linkedin.sandbox import LinkedInSandbox

    return LinkedInSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Point the connector at a sandbox: its ``/rest`` URL, token, the world's accounts, start."""
    accounts = [a.account_id for a in world.accounts if a.platform == "linkedin"]
    return {
        "REVOPS_LINKEDIN_BASE_URL": f"{base_url}/rest",
        SECRET_ENV: token,
        "REVOPS_LINKEDIN_ACCOUNT_IDS": json.dumps(accounts),
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def configured(settings: Settings) -> bool:
    token = settings.linkedin_access_token
    return bool(token and token.get_secret_value() and settings.linkedin_account_ids)


SPEC = SourceSpec(
    name="linkedin",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=SECRET_ENV,
    # adAnalytics has no paging; the entity finders do: one entity a page makes them page
    small_pages_env={"REVOPS_LINKEDIN_PAGE_SIZE": "1"},
    configured=configured,
    # 60-day tokens; refresh tokens only for approved partners
    refreshes_auth=False,
    restates=True,
)

__all__ = ["SPEC"]
