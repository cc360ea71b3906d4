"""HubSpot CRM v3: owners, contacts, deals and companies (with their contact associations and
deleted records), calls/emails/meetings (with their contacts) and deal pipelines.

See README.md in this folder for what is read, the settings and the wire pitfalls handled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.sources.hubspot.client import SEARCH_RESULT_CAP, SECRET_ENV, HubSpotClient
from revops.sources.hubspot.sandbox import HubSpotSandbox
from revops.sources.hubspot.streams import HubSpotSource
from revops.sources.registry import SourceSpec

if TYPE_CHECKING:
    from revops.sandbox.world import World
    from revops.settings import Settings


def _build(settings: Settings) -> HubSpotSource:
    return HubSpotSource(settings)


def _sandbox_env(base_url: str, token: str, world: World) -> dict[str, str]:
    return {"REVOPS_HUBSPOT_BASE_URL": base_url, SECRET_ENV: token}


def _configured(settings: Settings) -> bool:
    token = settings.hubspot_access_token
    return token is not None and bool(token.get_secret_value())


SPEC = SourceSpec(
    name="hubspot",
    build=_build,
    sandbox_app=HubSpotSandbox,
    sandbox_env=_sandbox_env,
    secret_env=SECRET_ENV,
    # the search page is fixed at 200 and the test world is larger: paging is always exercised
    small_pages_env={},
    configured=_configured,
)

__all__ = ["SPEC", "SEARCH_RESULT_CAP", "HubSpotClient", "HubSpotSandbox", "HubSpotSource"]
