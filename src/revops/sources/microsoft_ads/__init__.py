"""Microsoft Advertising (API v13 REST + Reporting): accounts, campaigns and the daily ad
performance report.

The registry entry. The sandbox is imported lazily so production code never loads werkzeug's
fake server, and the connector modules never import the sandbox (nor it them).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from revops.sources.microsoft_ads.client import SECRET_ENV
from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.microsoft_ads.streams import MicrosoftAdsSource


def build(settings: Settings) -> MicrosoftAdsSource:
    from revops.sources.microsoft_ads.streams import MicrosoftAdsSource

    return MicrosoftAdsSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.microsoft_ads.sandbox import MicrosoftAdsSandbox

    return MicrosoftAdsSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Point every service host and the token endpoint at one sandbox server; ``token`` is the
    refresh token. The sandbox's reports are ready at once, so it polls quickly."""
    from revops.sources.microsoft_ads.sandbox import CLIENT_ID, CUSTOMER_ID, DEVELOPER_TOKEN, TOKEN_PATH

    accounts = [a.account_id for a in world.accounts if a.platform == "microsoft_ads"]
    return {
        "REVOPS_MICROSOFT_ADS_REPORTING_URL": base_url,
        "REVOPS_MICROSOFT_ADS_CUSTOMER_URL": base_url,
        "REVOPS_MICROSOFT_ADS_CAMPAIGN_URL": base_url,
        "REVOPS_MICROSOFT_ADS_TOKEN_URL": f"{base_url}{TOKEN_PATH}",
        "REVOPS_MICROSOFT_ADS_CLIENT_ID": CLIENT_ID,
        SECRET_ENV: token,
        "REVOPS_MICROSOFT_ADS_DEVELOPER_TOKEN": DEVELOPER_TOKEN,
        "REVOPS_MICROSOFT_ADS_CUSTOMER_ID": CUSTOMER_ID,
        "REVOPS_MICROSOFT_ADS_ACCOUNT_IDS": json.dumps(accounts),
        "REVOPS_MICROSOFT_ADS_POLL_SECONDS": "0.01",
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def configured(settings: Settings) -> bool:
    refresh = settings.microsoft_ads_refresh_token
    developer = settings.microsoft_ads_developer_token
    return bool(
        refresh and refresh.get_secret_value()
        and developer and developer.get_secret_value()
        and settings.microsoft_ads_client_id
        and settings.microsoft_ads_account_ids
    )


SPEC = SourceSpec(
    name="microsoft_ads",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=SECRET_ENV,
    # the report is one zip file per request: nothing to page
    small_pages_env=None,
    configured=configured,
    refreshes_auth=True,
)

__all__ = ["SPEC"]
