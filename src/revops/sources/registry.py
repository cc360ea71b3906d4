"""Every source the product knows, and the one list of platforms. The flow extracts from these;
the contract test suite runs over them, so a new source gets paging/resume/retry/fault tests
without new test code; the sandbox (``revops.sandbox``) derives its ad platforms and CRMs from
here. See docs/adding-a-source.md.

A platform package ``revops.sources.<name>`` exposes ``SPEC: SourceSpec``. The connector class
is named by a dotted path and imported by ``SourceSpec.build``, so reading the registry loads no
connector (nor pyarrow).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from revops.settings import Settings
    from revops.sources.base import Source

#: what a source is to the warehouse: ad spend (unioned over the dbt var ``ad_platforms``),
#: a CRM's funnel, or reference data (FX rates)
Kind = Literal["ad_platform", "crm", "fx"]
AD_PLATFORM: Kind = "ad_platform"
CRM: Kind = "crm"
FX: Kind = "fx"

SOURCE_NAMES = (
    "meta", "hubspot", "salesforce", "google_ads", "linkedin", "microsoft_ads", "offline", "ecb",
)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: Kind
    #: the connector class, ``"package.module:Class"``, built from settings (credentials, base
    #: URL, account ids) by ``build``; imported only then
    connector: str
    #: the variable holding the credential; fatal auth errors name it (None: no credential,
    #: e.g. the ECB's public files; the contract's auth cases are skipped)
    secret_env: str | None
    #: the settings (field names) it needs, each non-empty: without them it is not configured
    #: (a deployment may use only some sources) and ``revops doctor`` names the missing ones
    requires: tuple[str, ...]
    #: OAuth sources refresh an expired access token once (the contract checks it)
    refreshes_auth: bool = False
    #: the source's records change after the fact (restated spend, edited CRM records): the
    #: contract checks that a resume picks the new values up. False for append-only data.
    restates: bool = True

    def missing(self, settings: Settings) -> list[str]:
        """The variables of ``requires`` that are not set (``REVOPS_META_ACCESS_TOKEN``...)."""
        out = []
        for name in self.requires:
            value = getattr(settings, name)
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            if not value:
                out.append(f"REVOPS_{name.upper()}")
        return out

    def configured(self, settings: Settings) -> bool:
        """Is every setting it requires set?"""
        return not self.missing(settings)

    def check(self, settings: Settings) -> str:
        """One cheap real request (credentials and reachability): what answered, or raises the
        connector's error (``FatalAPIError`` names the variable to fix)."""
        return self.build(settings).check()

    def build(self, settings: Settings, **options: object) -> Source:
        """The connector, reading its credentials, base URL and account ids from ``settings``
        (``options``: keyword arguments of its constructor, e.g. an injected ``clock``)."""
        return self._connector_class()(settings, **options)

    def parameters(self) -> tuple[str, ...]:
        """The names its connector's constructor takes (``clock``: it reads by day)."""
        import inspect

        return tuple(inspect.signature(self._connector_class()).parameters)

    def _connector_class(self) -> type:
        module, _, cls = self.connector.partition(":")
        return getattr(importlib.import_module(module), cls)


def get_spec(name: str) -> SourceSpec:
    return importlib.import_module(f"revops.sources.{name}").SPEC


def all_specs() -> list[SourceSpec]:
    return [get_spec(n) for n in SOURCE_NAMES]


def names_of_kind(kind: Kind) -> tuple[str, ...]:
    """The sources of one kind, in registry order (e.g. the ad platforms)."""
    return tuple(s.name for s in all_specs() if s.kind == kind)
