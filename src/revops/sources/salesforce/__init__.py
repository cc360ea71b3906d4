"""Salesforce (REST API, SOQL query/queryAll): users, leads and their status history, contacts,
opportunities with their stage history and contact roles, and tasks.

The registry entry. The sandbox is imported lazily so production code never loads werkzeug's
fake server, and the connector modules never import the sandbox (nor it them).
See README.md in this folder for what is read, the settings and the wire pitfalls handled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from revops.sources.registry import SourceSpec
from revops.sources.salesforce.client import SECRET_ENV

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.salesforce.streams import SalesforceSource


def build(settings: Settings) -> SalesforceSource:
    from revops.sources.salesforce.streams import SalesforceSource

    return SalesforceSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.salesforce.sandbox import SalesforceSandbox

    return SalesforceSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """The sandbox is both login server and instance: the token response names its URL."""
    from revops.sources.salesforce.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    return {
        "REVOPS_SALESFORCE_LOGIN_URL": base_url,
        "REVOPS_SALESFORCE_CLIENT_ID": SANDBOX_CLIENT_ID,
        "REVOPS_SALESFORCE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        SECRET_ENV: token,
    }


def configured(settings: Settings) -> bool:
    token = settings.salesforce_refresh_token
    return bool(token and token.get_secret_value() and settings.salesforce_client_id)


SPEC = SourceSpec(
    name="salesforce",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=SECRET_ENV,
    # 200 is the smallest batch Salesforce honours; the contract world has more leads than that
    small_pages_env={"REVOPS_SALESFORCE_BATCH_SIZE": "200"},
    configured=configured,
    refreshes_auth=True,
)

__all__ = ["SPEC"]
