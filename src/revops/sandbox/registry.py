"""The sandbox's own registry: for each source of ``revops.sources.registry``, its fake server
and the REVOPS_* variables that point the connector at it. Keyed by the same source names (a
test keeps the two registries in step).

Nothing here imports a server: ``SandboxSpec.app`` imports its module when the first app is
built, and the ``env`` functions import the server constants they hand to the connector then.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from revops.sources.registry import SOURCE_NAMES

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World


@dataclass(frozen=True)
class SandboxSpec:
    name: str
    #: the platform's SandboxApp class, ``"package.module:Class"``, built by ``app``
    server: str
    #: REVOPS_* variables that point the connector at a running server: ``env(base_url, token, world)``
    env: Callable[[str, str, World], dict[str, str]]
    #: variables that make the connector page in small pages (contract test of paging);
    #: None: the API has nothing to page
    small_pages_env: dict[str, str] | None

    def app(self, world: World, **kwargs: Any) -> SandboxApp:
        """The platform's fake server for ``world``: ``app(world, token=..., as_of=...)``."""
        module, _, cls = self.server.partition(":")
        return getattr(importlib.import_module(module), cls)(world, **kwargs)


def _accounts(world: World, platform: str) -> str:
    return json.dumps([a.account_id for a in world.accounts if a.platform == platform])


def _meta_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Its URL, token, the world's Meta accounts and start."""
    from revops.sources.meta.client import SECRET_ENV

    return {
        "REVOPS_META_BASE_URL": base_url,
        SECRET_ENV: token,
        "REVOPS_META_ACCOUNT_IDS": _accounts(world, "meta"),
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def _hubspot_env(base_url: str, token: str, world: World) -> dict[str, str]:
    from revops.sources.hubspot.client import SECRET_ENV

    return {"REVOPS_HUBSPOT_BASE_URL": base_url, SECRET_ENV: token}


def _salesforce_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """The sandbox is both login server and instance: the token response names its URL."""
    from revops.sandbox.servers.salesforce import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
    from revops.sources.salesforce.client import SECRET_ENV

    return {
        "REVOPS_SALESFORCE_LOGIN_URL": base_url,
        "REVOPS_SALESFORCE_CLIENT_ID": SANDBOX_CLIENT_ID,
        "REVOPS_SALESFORCE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        SECRET_ENV: token,
    }


def _google_ads_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """API and token endpoint on the same server, the sandbox's fixed OAuth client, ``token``
    as the refresh token, the world's customers."""
    from revops.sandbox.servers.google_ads import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, TOKEN_PATH
    from revops.sources.google_ads.client import SECRET_ENV

    return {
        "REVOPS_GOOGLE_ADS_BASE_URL": base_url,
        "REVOPS_GOOGLE_ADS_TOKEN_URL": f"{base_url}{TOKEN_PATH}",
        "REVOPS_GOOGLE_ADS_CLIENT_ID": SANDBOX_CLIENT_ID,
        "REVOPS_GOOGLE_ADS_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        SECRET_ENV: token,
        "REVOPS_GOOGLE_ADS_CUSTOMER_IDS": _accounts(world, "google_ads"),
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def _linkedin_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Its ``/rest`` URL, token, the world's accounts and start."""
    from revops.sources.linkedin.client import SECRET_ENV

    return {
        "REVOPS_LINKEDIN_BASE_URL": f"{base_url}/rest",
        SECRET_ENV: token,
        "REVOPS_LINKEDIN_ACCOUNT_IDS": _accounts(world, "linkedin"),
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def _microsoft_ads_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """Every service host and the token endpoint on one server; ``token`` is the refresh token.
    The sandbox's reports are ready at once, so the connector polls quickly."""
    from revops.sandbox.servers.microsoft_ads import CLIENT_ID, CUSTOMER_ID, DEVELOPER_TOKEN, TOKEN_PATH
    from revops.sources.microsoft_ads.client import SECRET_ENV

    return {
        "REVOPS_MICROSOFT_ADS_REPORTING_URL": base_url,
        "REVOPS_MICROSOFT_ADS_CUSTOMER_URL": base_url,
        "REVOPS_MICROSOFT_ADS_CAMPAIGN_URL": base_url,
        "REVOPS_MICROSOFT_ADS_TOKEN_URL": f"{base_url}{TOKEN_PATH}",
        "REVOPS_MICROSOFT_ADS_CLIENT_ID": CLIENT_ID,
        SECRET_ENV: token,
        "REVOPS_MICROSOFT_ADS_DEVELOPER_TOKEN": DEVELOPER_TOKEN,
        "REVOPS_MICROSOFT_ADS_CUSTOMER_ID": CUSTOMER_ID,
        "REVOPS_MICROSOFT_ADS_ACCOUNT_IDS": _accounts(world, "microsoft_ads"),
        "REVOPS_MICROSOFT_ADS_POLL_SECONDS": "0.01",
        "REVOPS_START_DATE": world.start.isoformat(),
    }


def _offline_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """The folder URL and its bearer token."""
    from revops.sandbox.servers.offline import FOLDER
    from revops.sources.offline.client import LOCATION_ENV, SECRET_ENV

    return {LOCATION_ENV: base_url.rstrip("/") + FOLDER, SECRET_ENV: token}


def _ecb_env(base_url: str, token: str, world: World) -> dict[str, str]:
    """The files' URL (the token is unused: the files are public)."""
    from revops.sandbox.servers.ecb import PREFIX

    return {
        "REVOPS_ECB_BASE_URL": f"{base_url}{PREFIX}",
        "REVOPS_START_DATE": world.start.isoformat(),
    }


SANDBOXES: dict[str, SandboxSpec] = {
    s.name: s
    for s in (
        SandboxSpec("meta", "revops.sandbox.servers.meta:MetaSandbox", _meta_env,
                    small_pages_env={"REVOPS_META_PAGE_SIZE": "25"}),
        # the search page is fixed at 200 and the test world is larger: paging is always exercised
        SandboxSpec("hubspot", "revops.sandbox.servers.hubspot:HubSpotSandbox", _hubspot_env,
                    small_pages_env={}),
        # 200 is the smallest batch Salesforce honours; the contract world has more leads than that
        SandboxSpec("salesforce", "revops.sandbox.servers.salesforce:SalesforceSandbox", _salesforce_env,
                    small_pages_env={"REVOPS_SALESFORCE_BATCH_SIZE": "200"}),
        # searchStream has no pages: one request streams every row of a query (in chunks of up
        # to 10,000 rows, all in the one response); the chunking is tested in test_google_ads.py
        SandboxSpec("google_ads", "revops.sandbox.servers.google_ads:GoogleAdsSandbox", _google_ads_env,
                    small_pages_env=None),
        # adAnalytics has no paging; the entity finders do: one entity a page makes them page
        SandboxSpec("linkedin", "revops.sandbox.servers.linkedin:LinkedInSandbox", _linkedin_env,
                    small_pages_env={"REVOPS_LINKEDIN_PAGE_SIZE": "1"}),
        # the report is one zip file per request: nothing to page
        SandboxSpec("microsoft_ads", "revops.sandbox.servers.microsoft_ads:MicrosoftAdsSandbox",
                    _microsoft_ads_env, small_pages_env=None),
        # one GET per file: nothing to page
        SandboxSpec("offline", "revops.sandbox.servers.offline:OfflineSandbox", _offline_env,
                    small_pages_env=None),
        # the files are unpaged
        SandboxSpec("ecb", "revops.sandbox.servers.ecb:EcbSandbox", _ecb_env, small_pages_env=None),
    )
}


def get_sandbox(name: str) -> SandboxSpec:
    return SANDBOXES[name]


def all_sandboxes() -> list[SandboxSpec]:
    """Every source's sandbox, in the production registry's order."""
    return [SANDBOXES[n] for n in SOURCE_NAMES]
