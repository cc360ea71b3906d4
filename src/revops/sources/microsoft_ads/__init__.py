"""Microsoft Advertising (API v13 REST + Reporting): accounts, campaigns and the daily ad
performance report.

The registry entry.
"""

from __future__ import annotations

from revops.sources.microsoft_ads.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

SPEC = SourceSpec(
    name="microsoft_ads",
    kind=AD_PLATFORM,
    connector="revops.sources.microsoft_ads.streams:MicrosoftAdsSource",
    secret_env=SECRET_ENV,
    requires=(
        "microsoft_ads_client_id",
        "microsoft_ads_refresh_token",
        "microsoft_ads_developer_token",
        "microsoft_ads_account_ids",
    ),
    refreshes_auth=True,
)

__all__ = ["SPEC"]
