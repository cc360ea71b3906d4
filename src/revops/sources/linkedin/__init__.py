"""LinkedIn Ads (Marketing API, versioned REST): ad accounts, campaign groups, campaigns,
creatives and daily creative-level adAnalytics (UTC days).

The registry entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.sources.linkedin.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

if TYPE_CHECKING:
    from revops.settings import Settings


def configured(settings: Settings) -> bool:
    token = settings.linkedin_access_token
    return bool(token and token.get_secret_value() and settings.linkedin_account_ids)


SPEC = SourceSpec(
    name="linkedin",
    kind=AD_PLATFORM,
    connector="revops.sources.linkedin.streams:LinkedInSource",
    secret_env=SECRET_ENV,
    configured=configured,
    # 60-day tokens; refresh tokens only for approved partners
    refreshes_auth=False,
)

__all__ = ["SPEC"]
