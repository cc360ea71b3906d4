"""Compare a mart to the sandbox's ground truth: every row, every column of the truth.

Integers equal, spend exactly (cents), other money to the cent, other decimals and floats (rates, hours, days, changes) to a
relative 1e-9, NULL exactly where the truth has None.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

MONEY = {"spend", "pipeline_created", "revenue_won", "target", "actual", "open_pipeline_end",
         "won_amount", "lost_amount", "attributed_revenue"}

#: converted spend is rounded once, to cents, by one rule on both sides (docs/metrics.md "Money"):
#: the mart and the truth agree exactly, not within half a cent
EXACT_CENTS = {"spend"}


def fetch_like(wh, table: str, want: list[dict]) -> list[dict]:
    """The published mart's rows, selecting exactly the columns the truth rows have."""
    cols = ", ".join(want[0].keys()) if want else "*"
    return wh.fetch_all(f"select {cols} from marts.{table}")


def _norm_key(row: dict, keys: tuple[str, ...]) -> tuple:
    return tuple(row[k] if not isinstance(row[k], date) else row[k].isoformat() for k in keys)


def _same(col: str, gv, wv) -> bool:
    if wv is None or gv is None:
        return wv is None and gv is None
    if col in EXACT_CENTS:
        return Decimal(str(gv)) == Decimal(wv)
    if col in MONEY:
        return abs(Decimal(str(gv)) - Decimal(wv)) < Decimal("0.005")
    if isinstance(wv, bool) or isinstance(wv, str | date):
        return gv == wv
    if isinstance(wv, int):
        return not isinstance(gv, float) and Decimal(str(gv)) == wv
    if isinstance(wv, float | Decimal):
        return math.isclose(float(gv), float(wv), rel_tol=1e-9, abs_tol=1e-12)
    return gv == wv


def diff_rows(got: list[dict], want: list[dict], keys: tuple[str, ...]) -> list[str]:
    """Human-readable differences; empty when the mart equals the truth."""
    problems: list[str] = []
    if got and want and set(want[0]) - set(got[0]):
        problems.append(f"mart lacks columns {sorted(set(want[0]) - set(got[0]))}")
        return problems
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
            if col not in keys and not _same(col, g[col], wv):
                problems.append(f"{k} {col}: warehouse {g[col]!r} != truth {wv!r}")
        if len(problems) > 30:
            break
    return problems
