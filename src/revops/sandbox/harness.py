"""Start every source's sandbox server for a world and give the settings that point at them."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from revops.sandbox.registry import all_sandboxes
from revops.sandbox.server import SandboxApp, SandboxServer
from revops.sandbox.world import AD_PLATFORMS, CRMS, World
from revops.settings import Settings, settings_from_env


@dataclass
class RunningSandboxes:
    world: World
    servers: dict[str, SandboxServer]
    env: dict[str, str]

    def app(self, source: str) -> SandboxApp:
        return self.servers[source].app

    def settings(self, **overrides: object) -> Settings:
        """Settings that reach these sandboxes (``overrides`` for warehouse URL, backoff...)."""
        return settings_from_env(self.env, **overrides)

    def set_clock(self, as_of: datetime) -> None:
        for server in self.servers.values():
            server.app.as_of = as_of

    def prerender(self, afresh: bool = False) -> None:
        """Every server renders its clock now (``SandboxApp.prerender``); ``afresh``: what
        each built at the clock is dropped first (``SandboxApp.forget``), so a second night at
        the same clock finds the sandbox as the first one did."""
        for server in self.servers.values():
            if afresh:
                server.app.forget()
            server.app.prerender()


def uses(world: World, source: str) -> bool:
    """Does the world's company use this source? (ad platforms and CRMs it has; always FX)"""
    if source in AD_PLATFORMS:
        return source in world.config.platforms
    if source in CRMS:
        return source in world.config.crms
    return True


@contextmanager
def sandboxes(world: World, as_of: datetime | None = None, port: int = 0,
              only: Collection[str] | None = None) -> Iterator[RunningSandboxes]:
    """All sandbox servers on 127.0.0.1 (``port`` 0 = free ports, else consecutive from it), or
    those of the sources named in ``only``.

    Each gets a fresh random token; ``env`` holds the REVOPS_* variables to reach them."""
    servers: dict[str, SandboxServer] = {}
    env: dict[str, str] = {}
    try:
        for i, spec in enumerate(s for s in all_sandboxes()
                                 if uses(world, s.name) and (only is None or s.name in only)):
            token = secrets.token_urlsafe(24)
            app = spec.app(world, token=token, as_of=as_of)
            server = SandboxServer(app, port=port + i if port else 0).start()
            servers[spec.name] = server
            env.update(spec.env(server.url, token, world))
        yield RunningSandboxes(world, servers, env)
    finally:
        for server in servers.values():
            server.stop()
