"""Compare a mart to the sandbox's ground truth: every row, every column.

Integers must be equal, money equal to the cent, rates to a relative 1e-9, NULLs where truth has None.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

MONEY = {"spend", "pipeline_created", "revenue_won", "target", "actual"}
RATES = {"cpl", "cost_per_mql", "cost_per_sql", "cac", "roas", "attainment", "coverage",
         "cost_per_paid_lead", "mql_to_sql_rate", "win_rate"}


def fetch_like(wh, table: str, want: list[dict]) -> list[dict]:
    """The published mart's rows, selecting exactly the columns the truth rows have."""
    cols = ", ".join(want[0].keys()) if want else "*"
    return wh.fetch_all(f"select {cols} from marts.{table}")


def _norm_key(row: dict, keys: tuple[str, ...]) -> tuple:
    return tuple(row[k] if not isinstance(row[k], date) else row[k].isoformat() for k in keys)


def diff_rows(got: list[dict], want: list[dict], keys: tuple[str, ...]) -> list[str]:
    """Human-readable differences; empty when the mart equals the truth."""
    problems: list[str] = []
    got_by = {_norm_key(r, keys): r for r in got}
    want_by = {_norm_key(r, keys): r for r in want}
    if len(got_by) != len(got):
        problems.append(f"mart has duplicate keys: {len(got)} rows, {len(got_by)} distinct")
    for k in sorted(set(want_by) - set(got_by))[:10]:
        problems.append(f"missing row {k}: {want_by[k]}")
    for k in sorted(set(got_by) - set(want_by))[:10]:
        problems.append(f"extra row {k}: {got_by[k]}")
    for k in sorted(set(got_by) & set(want_by)):
        g, w = got_by[k], want_by[k]
        for col, wv in w.items():
            if col in keys:
                continue
            gv = g[col]
            if wv is None or gv is None:
                ok = wv is None and gv is None
            elif col in MONEY:
                ok = abs(Decimal(str(gv)) - Decimal(wv)) < Decimal("0.005")
            elif col in RATES or col.endswith("_change"):
                ok = math.isclose(float(gv), float(wv), rel_tol=1e-9, abs_tol=1e-9)
            elif isinstance(wv, int | Decimal) and not isinstance(wv, bool):
                ok = Decimal(str(gv)) == Decimal(wv)
            else:
                ok = gv == wv
            if not ok:
                problems.append(f"{k} {col}: warehouse {gv!r} != truth {wv!r}")
        if len(problems) > 30:
            break
    return problems
