"""Meta Ads (Marketing API Insights): ad accounts, campaigns and daily ad-level insights.

The registry entry.
"""

from __future__ import annotations

from revops.sources.meta.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

SPEC = SourceSpec(
    name="meta",
    kind=AD_PLATFORM,
    connector="revops.sources.meta.streams:MetaSource",
    secret_env=SECRET_ENV,
    requires=("meta_access_token", "meta_account_ids"),
)

__all__ = ["SPEC"]
