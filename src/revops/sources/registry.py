"""Every source the product knows. The flow extracts from these; the contract test suite runs
over them, so a new source gets paging/resume/retry/fault tests without new test code.

A platform package ``revops.sources.<name>`` exposes ``SPEC: SourceSpec``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from revops.sandbox.server import SandboxApp
    from revops.sandbox.world import World
    from revops.settings import Settings
    from revops.sources.base import Source

SOURCE_NAMES = (
    "meta", "hubspot", "salesforce", "google_ads", "linkedin", "microsoft_ads", "offline", "ecb",
)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    #: build the connector from settings (credentials, base URL, account ids)
    build: Callable[[Settings], Source]
    #: the platform's sandbox app: ``sandbox_app(world, token=..., as_of=...)``
    sandbox_app: Callable[..., SandboxApp]
    #: REVOPS_* variables that point the connector at a sandbox: ``(base_url, token, world)``
    sandbox_env: Callable[[str, str, World], dict[str, str]]
    #: the variable holding the credential; fatal auth errors name it (None: no credential,
    #: e.g. the ECB's public files; the contract's auth cases are skipped)
    secret_env: str | None
    #: variables that make the connector page in small pages (contract test of paging);
    #: None: the API has nothing to page
    small_pages_env: dict[str, str] | None
    #: is it configured? (a deployment may use only some sources)
    configured: Callable[[Settings], bool]
    #: OAuth sources refresh an expired access token once (the contract checks it)
    refreshes_auth: bool = False
    #: the source's records change after the fact (restated spend, edited CRM records): the
    #: contract checks that a resume picks the new values up. False for append-only data.
    restates: bool = True


def get_spec(name: str) -> SourceSpec:
    return importlib.import_module(f"revops.sources.{name}").SPEC


def all_specs() -> list[SourceSpec]:
    return [get_spec(n) for n in SOURCE_NAMES]
