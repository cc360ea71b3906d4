"""Email pseudonyms for core: ``email_hash = HMAC-SHA256(salt, lower(trim(email)))`` in hex.

The salt (``REVOPS_EMAIL_HASH_SALT``) is a secret: it must not appear in SQL text (dbt writes
every compiled statement to ``target/`` and PostgreSQL may log statements), in dbt's ``--vars``
(kept in ``run_results.json``) or in a log. So the hashes are computed here, in Python, before
dbt runs, into ``ops.email_hashes`` (normalised email -> hash), which ``core.dim_contact`` joins.
``ops`` is not readable by the BI role, like ``raw``, where the clear emails already are.

Only emails not hashed yet are hashed on each run; a changed salt (its fingerprint, ``salt_id``,
differs) rehashes everything. Without a salt the hash is plain SHA-256 (a warning says so): a
dictionary of likely emails would then reverse it, so set one in production.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import pyarrow as pa
from sqlalchemy import text

from revops.load.warehouse import Warehouse, q
from revops.settings import Settings

log = logging.getLogger(__name__)

#: raw tables and the column holding a person's email, per CRM stream
EMAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("hubspot__contacts", "email"),
    ("salesforce__leads", "Email"),
    ("salesforce__contacts", "Email"),
)
#: the SQL normalisation both this module and dim_contact apply (macro ``email_norm``)
NORM = "lower(trim({col}))"


def salt_id(salt: str | None) -> str:
    """A fingerprint that tells whether the stored hashes were made with this salt; it does not
    reveal the salt (it is itself a keyed hash of a constant)."""
    if not salt:
        return "unsalted"
    return hmac.new(salt.encode(), b"revops-email-hash-salt-id", hashlib.sha256).hexdigest()[:16]


def email_hash(email_norm: str, salt: str | None) -> str:
    if not salt:
        return hashlib.sha256(email_norm.encode()).hexdigest()
    return hmac.new(salt.encode(), email_norm.encode(), hashlib.sha256).hexdigest()


def refresh_email_hashes(wh: Warehouse, settings: Settings, run_id: str) -> int:
    """Hash every email in the CRM raw tables that ``ops.email_hashes`` lacks; returns how many."""
    salt = settings.email_hash_salt.get_secret_value() if settings.email_hash_salt else None
    if not salt:
        log.warning("REVOPS_EMAIL_HASH_SALT is not set: emails are hashed without a salt")
    sid = salt_id(salt)
    wh.ensure_schemas()
    selects = [
        f"select {NORM.format(col=q(col))} as email_norm from raw.{q(table)} where {q(col)} is not null"
        for table, col in EMAIL_COLUMNS
        if wh.table_exists("raw", table) and col in _columns(wh, table)
    ]
    with wh.engine.begin() as conn:
        conn.execute(text("delete from ops.email_hashes where salt_id <> :sid"), {"sid": sid})
        if not selects:
            return 0
        new = [
            r[0]
            for r in conn.execute(
                text(
                    # not exists, not "not in (select ...)": PostgreSQL runs NOT IN over a
                    # subquery larger than work_mem row by row against it. The large world's
                    # second night on PostgreSQL (1M hashes stored) sat in it for minutes; this
                    # answered in 3 s
                    f"select distinct email_norm from ({' union '.join(selects)}) e "
                    "where email_norm <> '' and not exists "
                    "(select 1 from ops.email_hashes h where h.email_norm = e.email_norm)"
                )
            )
        ]
        if new:
            batch = pa.table({
                "email_norm": pa.array(new, pa.string()),
                "email_hash": pa.array([email_hash(e, salt) for e in new], pa.string()),
                "salt_id": pa.array([sid] * len(new), pa.string()),
            })
            wh.insert_arrow(conn, "ops.email_hashes", batch, run_id)
    return len(new)


def _columns(wh: Warehouse, table: str) -> list[str]:
    with wh.engine.connect() as conn:
        return wh.columns(conn, "raw", table)
