"""Load benchmark: the bulk path (Arrow scan into DuckDB, binary COPY into PostgreSQL) against
row-by-row INSERT (executemany) of the same rows, on the same machine in the same run.

    make bench                     # or: .venv/bin/python -m bench.load_bench --rows 200000

Writes bench/results/load_<UTC timestamp>.json and appends a line to bench/results/load.md.
PostgreSQL: REVOPS_TEST_PG_DSN (default host=127.0.0.1 user=postgres dbname=postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
from sqlalchemy import text

from revops.load.warehouse import Warehouse

RESULTS = Path(__file__).resolve().parent / "results"
PG_ADMIN = os.environ.get("REVOPS_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
SCHEMA = pa.schema([
    ("ad_id", pa.string()), ("date_start", pa.string()), ("campaign_id", pa.string()),
    ("spend", pa.string()), ("impressions", pa.string()), ("clicks", pa.string()),
])


def make_rows(n: int, seed: int = 1) -> pa.Table:
    rng = random.Random(seed)
    ads = max(1, n // 365)
    rows = {k: [] for k in SCHEMA.names}
    for i in range(n):
        rows["ad_id"].append(str(23850000000000000 + i % ads))
        rows["date_start"].append(f"2026-{1 + (i // ads) // 28 % 12:02d}-{1 + (i // ads) % 28:02d}")
        rows["campaign_id"].append(str(1000 + (i % ads) // 10))
        rows["spend"].append(f"{rng.uniform(1, 500):.2f}")
        rows["impressions"].append(str(rng.randint(100, 100000)))
        rows["clicks"].append(str(rng.randint(0, 2000)))
    return pa.Table.from_pydict(rows, schema=SCHEMA)


def bulk(wh: Warehouse, table: pa.Table) -> float:
    t = time.perf_counter()
    wh.load_batch(source="bench", stream="bulk", table=table, primary_key=["ad_id", "date_start"],
                  state={"n": table.num_rows}, run_id="bench")
    return time.perf_counter() - t


def row_by_row(wh: Warehouse, table: pa.Table) -> float:
    """The naive alternative: INSERT ... VALUES executemany in one transaction."""
    cols = ", ".join(SCHEMA.names)
    with wh.engine.begin() as conn:
        conn.execute(text(f"create table if not exists raw.bench__rows ({', '.join(c + ' varchar' for c in SCHEMA.names)})"))
    rows = table.to_pylist()
    t = time.perf_counter()
    with wh.engine.begin() as conn:
        conn.execute(text(f"insert into raw.bench__rows ({cols}) values ({', '.join(':' + c for c in SCHEMA.names)})"), rows)
    return time.perf_counter() - t


def run(rows: int, naive_rows: int) -> dict:
    table = make_rows(rows)
    naive = table.slice(0, naive_rows)
    out = {"rows": rows, "naive_rows": naive_rows, "at": datetime.now(UTC).isoformat(),
           "machine": f"{platform.machine()} {os.cpu_count()} cpu", "engines": {}}
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(f"duckdb:///{tmp}/bench.duckdb")
        wh.ensure_schemas()
        out["engines"]["duckdb"] = _measure(wh, table, naive)
        wh.dispose()
    name = f"revops_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        parts = dict(p.split("=", 1) for p in PG_ADMIN.split())
        wh = Warehouse(f"postgresql+psycopg://{parts.get('user', 'postgres')}@{parts.get('host', '127.0.0.1')}:{parts.get('port', '5432')}/{name}")
        wh.ensure_schemas()
        out["engines"]["postgresql"] = _measure(wh, table, naive)
        wh.dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    return out


def _measure(wh: Warehouse, table: pa.Table, naive: pa.Table) -> dict:
    first = bulk(wh, table)
    merge = bulk(wh, table)  # every key already there: the delete + insert merge path
    slow = row_by_row(wh, naive)
    return {
        "bulk_insert_rows_per_s": round(table.num_rows / first),
        "bulk_merge_rows_per_s": round(table.num_rows / merge),
        "row_by_row_rows_per_s": round(naive.num_rows / slow),
        "bulk_vs_row_by_row": round((table.num_rows / first) / (naive.num_rows / slow), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--naive-rows", type=int, default=20_000, help="row-by-row is slow: fewer rows, rate compared")
    args = ap.parse_args()
    result = run(args.rows, args.naive_rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"load_{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    line = " | ".join(
        f"{eng}: bulk {r['bulk_insert_rows_per_s']:,}/s, merge {r['bulk_merge_rows_per_s']:,}/s, "
        f"row-by-row {r['row_by_row_rows_per_s']:,}/s (x{r['bulk_vs_row_by_row']})"
        for eng, r in result["engines"].items()
    )
    with (RESULTS / "load.md").open("a") as fh:
        fh.write(f"- {stamp} {result['rows']:,} rows, {result['machine']}: {line}\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
