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

SOURCE_NAMES = ("meta", "hubspot")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    #: build the connector from settings (credentials, base URL, account ids)
    build: Callable[[Settings], Source]
    #: the platform's sandbox app: ``sandbox_app(world, token=..., as_of=...)``
    sandbox_app: Callable[..., SandboxApp]
    #: REVOPS_* variables that point the connector at a sandbox: ``(base_url, token, world)``
    sandbox_env: Callable[[str, str, World], dict[str, str]]
    #: the variable holding the credential; fatal auth errors name it
    secret_env: str
    #: variables that make the connector page in small pages (contract test of paging)
    small_pages_env: dict[str, str]
    #: is it configured? (a deployment may use only some sources)
    configured: Callable[[Settings], bool]


def get_spec(name: str) -> SourceSpec:
    return importlib.import_module(f"revops.sources.{name}").SPEC


def all_specs() -> list[SourceSpec]:
    return [get_spec(n) for n in SOURCE_NAMES]
