"""Google Ads (REST ``googleAds:searchStream`` with GAQL): customers, campaigns and daily
ad-level spend.

The registry entry. The sandbox is imported lazily so production code never loads werkzeug's
fake server, and the connector modules never import the sandbox (nor it them).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from revops.sources.google_ads.client import SECRET_ENV
from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.google_ads.streams import GoogleAdsSource


def build(settings: Settings) -> GoogleAdsSource:
    from revops.sources.google_ads.streams import GoogleAdsSource

    return GoogleAdsSource(settings)


def sandbox_app(world: World, **kwargs: Any) -> SandboxApp:
    from revops.sources.google_ads.sandbox import GoogleAdsSandbox

    return GoogleAdsSandbox(world, **kwargs)


def sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Point the connector at a sandbox: API and token endpoint on the same server, the
    sandbox's fixed OAuth client, ``token`` as the refresh token, the world's customers."""
    from revops.sources.google_ads.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, TOKEN_PATH

    customers = [a.account_id for a in world.accounts if a.platform == "google_ads"]
    return {
        "REVOPS_GOOGLE_ADS_BASE_URL": base_url,
        "REVOPS_GOOGLE_ADS_TOKEN_URL": f"{base_url}{TOKEN_PATH}",
        "REVOPS_GOOGLE_ADS_CLIENT_ID": SANDBOX_CLIENT_ID,
        "REVOPS_GOOGLE_ADS_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        SECRET_ENV: token,
        "REVOPS_GOOGLE_ADS_CUSTOMER_IDS": json.dumps(customers),
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def configured(settings: Settings) -> bool:
    token = settings.google_ads_refresh_token
    return bool(
        token
        and token.get_secret_value()
        and settings.google_ads_client_id
        and settings.google_ads_customer_ids
    )


SPEC = SourceSpec(
    name="google_ads",
    build=build,
    sandbox_app=sandbox_app,
    sandbox_env=sandbox_env,
    secret_env=SECRET_ENV,
    # searchStream has no pages: one request streams every row of a query (in chunks of up to
    # 10,000 rows, all in the one response); the chunking is tested in test_google_ads.py
    small_pages_env=None,
    configured=configured,
    refreshes_auth=True,
)

__all__ = ["SPEC"]
