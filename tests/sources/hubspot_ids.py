"""HubSpot ids of the world's people, computed from the world the way the HubSpot sandbox's README
documents them (independently of the sandbox's code): a merge mints a new id,
``MERGED_ID_BASE + k * MERGED_ID_STEP + <survivor's world id>`` after the person's k-th merge."""

from __future__ import annotations

from datetime import datetime

from revops.sandbox.world import Contact, World

MERGED_ID_BASE = 90_000_000_000
MERGED_ID_STEP = 1_000_000_000


def merges_of(world: World, c: Contact, as_of: datetime) -> list[Contact]:
    """The duplicates merged into ``c`` by ``as_of``, in merge order."""
    return sorted((world.contact_by_id[i] for i in c.absorbed
                   if world.contact_by_id[i].merged_at <= as_of),
                  key=lambda d: (d.merged_at, d.contact_id))


def person(world: World, world_id: int, as_of: datetime) -> Contact:
    c = world.contact_by_id[world_id]
    while c.merged_into is not None and c.merged_at <= as_of:
        c = world.contact_by_id[c.merged_into]
    return c


def hs_id(world: World, world_id: int, as_of: datetime) -> str:
    """The id HubSpot shows at ``as_of`` for the person of world contact ``world_id``."""
    c = person(world, world_id, as_of)
    k = len(merges_of(world, c, as_of))
    return str(MERGED_ID_BASE + k * MERGED_ID_STEP + c.contact_id if k else c.contact_id)
