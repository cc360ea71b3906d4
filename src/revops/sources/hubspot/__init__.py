"""HubSpot CRM v3: owners, contacts, deals and companies (with their contact associations and
deleted records), calls/emails/meetings (with their contacts) and deal pipelines.

The registry entry. See README.md in this folder for what is read, the settings and the wire
pitfalls handled.
"""

from __future__ import annotations

from revops.sources.hubspot.client import SECRET_ENV
from revops.sources.registry import CRM, SourceSpec

SPEC = SourceSpec(
    name="hubspot",
    kind=CRM,
    connector="revops.sources.hubspot.streams:HubSpotSource",
    secret_env=SECRET_ENV,
    requires=("hubspot_access_token",),
)

__all__ = ["SPEC"]
