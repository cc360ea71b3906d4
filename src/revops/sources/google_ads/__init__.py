"""Google Ads (REST ``googleAds:searchStream`` with GAQL): customers, campaigns and daily
ad-level spend.

The registry entry. searchStream has no pages: one request streams every row of a query (in
chunks of up to 10,000 rows, all in the one response); the chunking is tested in
test_google_ads.py.
"""

from __future__ import annotations

from revops.sources.google_ads.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

SPEC = SourceSpec(
    name="google_ads",
    kind=AD_PLATFORM,
    connector="revops.sources.google_ads.streams:GoogleAdsSource",
    secret_env=SECRET_ENV,
    requires=("google_ads_client_id", "google_ads_refresh_token", "google_ads_customer_ids"),
    refreshes_auth=True,
)

__all__ = ["SPEC"]
