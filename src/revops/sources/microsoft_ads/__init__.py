"""Microsoft Advertising (API v13 REST + Reporting): accounts, campaigns and the daily ad
performance report.

The registry entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.sources.microsoft_ads.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

if TYPE_CHECKING:
    from revops.settings import Settings


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
    kind=AD_PLATFORM,
    connector="revops.sources.microsoft_ads.streams:MicrosoftAdsSource",
    secret_env=SECRET_ENV,
    configured=configured,
    refreshes_auth=True,
)

__all__ = ["SPEC"]
