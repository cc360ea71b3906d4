"""Meta Ads (Marketing API Insights): ad accounts, campaigns and daily ad-level insights.

The registry entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.sources.meta.client import SECRET_ENV
from revops.sources.registry import AD_PLATFORM, SourceSpec

if TYPE_CHECKING:
    from revops.settings import Settings


def configured(settings: Settings) -> bool:
    token = settings.meta_access_token
    return bool(token and token.get_secret_value() and settings.meta_account_ids)


SPEC = SourceSpec(
    name="meta",
    kind=AD_PLATFORM,
    connector="revops.sources.meta.streams:MetaSource",
    secret_env=SECRET_ENV,
    configured=configured,
)

__all__ = ["SPEC"]
