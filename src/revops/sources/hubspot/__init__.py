"""HubSpot CRM v3: owners, contacts, deals and companies (with their contact associations and
deleted records), calls/emails/meetings (with their contacts) and deal pipelines.

The registry entry. See README.md in this folder for what is read, the settings and the wire
pitfalls handled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.sources.hubspot.client import SECRET_ENV
from revops.sources.registry import CRM, SourceSpec

if TYPE_CHECKING:
    from revops.settings import Settings


def configured(settings: Settings) -> bool:
    token = settings.hubspot_access_token
    return token is not None and bool(token.get_secret_value())


SPEC = SourceSpec(
    name="hubspot",
    kind=CRM,
    connector="revops.sources.hubspot.streams:HubSpotSource",
    secret_env=SECRET_ENV,
    configured=configured,
)

__all__ = ["SPEC"]
