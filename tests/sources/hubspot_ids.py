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


#: the README's company ids: COMPANY_ID_BASE + the world id of the contact whose deal made it
COMPANY_ID_BASE = 30_000_000_000
_ASCII = {"Müller": "muller"}


def world_companies(world: World, as_of: datetime) -> dict[str, dict]:
    """The world's HubSpot companies at ``as_of`` as the README documents them, from the world's
    deals (not through the sandbox): one per contact with a deal, created with its first deal,
    a customer once one of its deals is won, gone with its contact."""
    out: dict[str, dict] = {}
    for c in world.contacts:
        deals = sorted((d for d in world.deals if d.contact_id == c.contact_id),
                       key=lambda d: d.created_at)
        if not deals or deals[0].created_at > as_of or (c.deleted_at and c.deleted_at <= as_of):
            continue
        won = [d.close_at for d in deals if d.is_won and d.close_at and d.close_at <= as_of]
        last = _ASCII.get(c.last_name, c.last_name.lower())
        out[str(COMPANY_ID_BASE + c.contact_id)] = {
            "name": f"{c.last_name} Ltda {c.contact_id}",
            "domain": f"{last}{c.contact_id}.example.com.br",
            "is_customer": bool(won),
            "created_at": deals[0].created_at,
            "modified_at": max([deals[0].created_at, *won]),
            "owner_id": deals[0].owner_id,
            "contact": hs_id(world, c.contact_id, as_of),
        }
    return out
