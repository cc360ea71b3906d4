"""Emails reach core only as keyed pseudonyms (HMAC-SHA256 with the salt from settings), and the
salt itself reaches no table, no dbt file and no log."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pyarrow as pa
from pydantic import SecretStr

from revops.load.pseudonymize import refresh_email_hashes
from revops.load.warehouse import Warehouse
from revops.settings import settings_from_env
from tests.conftest import EMAIL_HASH_SALT
from tests.sources.hubspot_ids import hs_id


def _contacts(*emails: str) -> pa.Table:
    return pa.table({
        "id": pa.array([str(i) for i in range(1, len(emails) + 1)], pa.string()),
        "email": pa.array(list(emails), pa.string()),
    })


def _hashes(wh: Warehouse) -> dict[str, str]:
    return {r["email_norm"]: r["email_hash"] for r in wh.fetch_all("select * from ops.email_hashes")}


def test_hashes_are_keyed_incremental_and_follow_the_salt(warehouse_url):
    with Warehouse(warehouse_url) as wh:
        wh.ensure_schemas()
        wh.load_batch(source="hubspot", stream="contacts", table=_contacts(" Ana@Example.org", None, ""),
                      primary_key=["id"], state=None, run_id="r1")
        salted = settings_from_env({}, warehouse_url=warehouse_url, email_hash_salt=SecretStr("pepper-1"))
        assert refresh_email_hashes(wh, salted, "r1") == 1  # NULL and '' have no pseudonym
        want = hmac.new(b"pepper-1", b"ana@example.org", hashlib.sha256).hexdigest()
        assert _hashes(wh) == {"ana@example.org": want}
        assert want != hashlib.sha256(b"ana@example.org").hexdigest()

        assert refresh_email_hashes(wh, salted, "r2") == 0  # nothing new: nothing rehashed
        wh.load_batch(source="hubspot", stream="contacts", table=_contacts("ana@example.org", "bo@example.org"),
                      primary_key=["id"], state=None, run_id="r3")
        assert refresh_email_hashes(wh, salted, "r3") == 1
        assert set(_hashes(wh)) == {"ana@example.org", "bo@example.org"}

        rotated = settings_from_env({}, warehouse_url=warehouse_url, email_hash_salt=SecretStr("pepper-2"))
        assert refresh_email_hashes(wh, rotated, "r4") == 2  # a new salt rehashes everything
        assert _hashes(wh)["bo@example.org"] == hmac.new(b"pepper-2", b"bo@example.org", hashlib.sha256).hexdigest()

        unsalted = settings_from_env({}, warehouse_url=warehouse_url)
        assert refresh_email_hashes(wh, unsalted, "r5") == 2
        assert _hashes(wh)["bo@example.org"] == hashlib.sha256(b"bo@example.org").hexdigest()


def test_core_holds_the_salted_hash_and_the_salt_is_nowhere(built_warehouse):
    world, settings = built_warehouse["world"], built_warehouse["settings"]
    with Warehouse(built_warehouse["url"]) as wh:
        got = {r["contact_id"]: r["email_hash"] for r in wh.fetch_all(
            "select contact_id, email_hash from core.dim_contact where crm = 'hubspot'")}
        email_cols = {f"{r['table_schema']}.{r['table_name']}" for r in wh.fetch_all(
            "select table_schema, table_name from information_schema.columns "
            "where table_schema in ('core', 'marts') and column_name like '%email%' and column_name <> 'email_hash'")}
        stored = [str(v) for schema_table in ("ops.runs", "ops.quality_results", "ops.run_streams", "ops.email_hashes")
                  for row in wh.fetch_all(f"select * from {schema_table}") for v in row.values()]
    people = {hs_id(world, c.contact_id, world.now): c for c in world.contacts_as_of(world.now)}
    assert got and set(got) <= set(people)
    key = EMAIL_HASH_SALT.encode()
    for cid, digest in got.items():
        assert digest == hmac.new(key, people[cid].email.lower().encode(), hashlib.sha256).hexdigest(), cid
    # no clear email of a person in core or marts; the owners' (the company's own users') work
    # addresses stay in the owner directory
    assert email_cols == {"core.dim_owner"}
    assert not [v for v in stored if EMAIL_HASH_SALT in v]
    leaks = [p for p in Path(settings.data_dir).rglob("*")
             if p.is_file() and EMAIL_HASH_SALT.encode() in p.read_bytes()]
    assert leaks == []
