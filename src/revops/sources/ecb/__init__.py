"""ECB euro foreign exchange reference rates: the rates the warehouse converts ad spend with.

The registry entry. The ECB's files are public (no credential), unpaged, and append-only (a
published rate is never restated).
"""

from __future__ import annotations

from revops.sources.registry import FX, SourceSpec

SPEC = SourceSpec(
    name="ecb",
    kind=FX,
    connector="revops.sources.ecb.streams:EcbSource",
    secret_env=None,
    requires=("ecb_base_url",),
    restates=False,
)

__all__ = ["SPEC"]
