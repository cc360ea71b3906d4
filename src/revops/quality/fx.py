"""Spend that needs an ECB rate the warehouse does not have: held back, quarantined, never a zero.

``core.fct_ad_daily`` converts spend to the reporting currency. A row already in the reporting
currency needs no rate; a row in another currency needs the ECB publication on or before its
day. When the stored rates lack it (the ECB was unreachable, or it does not quote the currency),
dbt keeps the row out of ``fct_ad_daily`` and lists it in ``core.fct_ad_daily_fx_missing``.
After the build, :func:`quarantine_unconverted` puts each such row in ``ops.quarantine``
(``source`` = the platform, ``stream`` = ``ad_daily``, key = the fact's grain, the reason naming
the currency and day) and logs one warning per platform and currency, so the run publishes every
other row and says which spend is missing. Nothing is lost: the raw rows stay, and the next build
after the rate is stored converts them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from revops.load.warehouse import Warehouse

log = logging.getLogger(__name__)

HELD_BACK = "core.fct_ad_daily_fx_missing"
_GRAIN = ("platform", "account_id", "campaign_id", "ad_group_id", "ad_id", "date_day")


def quarantine_unconverted(wh: Warehouse, run_id: str) -> list[str]:
    """Quarantine the rows dbt held back for want of a rate; one message per platform and currency
    (``"google_ads: no ECB rate for GBP from 2026-06-01 to 2026-06-04 (12 rows held back)"``)."""
    if not wh.table_exists("core", "fct_ad_daily_fx_missing"):
        return []
    rows = wh.fetch_all(f"select * from {HELD_BACK} order by platform, currency, date_day")
    by_platform: dict[str, list[tuple]] = defaultdict(list)
    for r in rows:
        key = "|".join("" if r[k] is None else str(r[k]) for k in _GRAIN)
        by_platform[r["platform"]].append((key, r, [r["problem"]]))
    messages = []
    for platform, bad in by_platform.items():
        wh.quarantine(run_id, platform, "ad_daily", bad)
        spans: dict[str, list] = defaultdict(list)
        for _, r, _ in bad:
            spans[r["currency"]].append(r["date_day"])
        for currency, days in sorted(spans.items()):
            msg = (f"{platform}: no ECB rate for {currency} from {min(days)} to {max(days)} "
                   f"({len(days)} rows held back from core.fct_ad_daily and quarantined)")
            log.warning(msg)
            messages.append(msg)
    return messages
