"""Offline spend (events, sponsorships, print): finance's CSV files in a folder, local or
served over HTTP(S) as an nginx JSON listing.

The registry entry.
"""

from __future__ import annotations

from revops.sources.offline.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

SPEC = SourceSpec(
    name="offline",
    kind=AD_PLATFORM,
    connector="revops.sources.offline.streams:OfflineSource",
    secret_env=SECRET_ENV,
    requires=("offline_spend_location",),
)

__all__ = ["SPEC"]
