"""LinkedIn Ads (Marketing API, versioned REST): ad accounts, campaign groups, campaigns,
creatives and daily creative-level adAnalytics (UTC days).

The registry entry.
"""

from __future__ import annotations

from revops.sources.linkedin.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

SPEC = SourceSpec(
    name="linkedin",
    kind=AD_PLATFORM,
    connector="revops.sources.linkedin.streams:LinkedInSource",
    secret_env=SECRET_ENV,
    requires=("linkedin_access_token", "linkedin_account_ids"),
    # 60-day tokens; refresh tokens only for approved partners
    refreshes_auth=False,
)

__all__ = ["SPEC"]
