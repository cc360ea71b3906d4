"""ECB euro foreign exchange reference rates: the rates the warehouse converts ad spend with.

The registry entry. The ECB's files are public (no credential), unpaged, and append-only (a
published rate is never restated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.sources.registry import FX, SourceSpec

if TYPE_CHECKING:
    from revops.settings import Settings


def configured(settings: Settings) -> bool:
    """Public files: configured whenever a base URL is set (it is by default)."""
    return bool(settings.ecb_base_url)


SPEC = SourceSpec(
    name="ecb",
    kind=FX,
    connector="revops.sources.ecb.streams:EcbSource",
    secret_env=None,
    configured=configured,
    restates=False,
)

__all__ = ["SPEC"]
