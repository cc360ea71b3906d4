"""What every ground-truth module shares: the reporting configuration, the channel of a platform
or a contact (from the dbt seed the pipeline reads too), spend in the reporting currency.

The only inputs shared with the pipeline are configuration data (dbt seeds: channel mapping,
targets, a marketer's campaign aliases). FX comes from the world's own ECB rates, converted at the last publication on or
before each spend day.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from revops.sandbox.world import World

SEEDS = Path(__file__).resolve().parents[2] / "dbt" / "seeds"


#: the money rounding rule (docs/metrics.md, "Money"): converted spend is rounded once per ad and
#: day, to cents, half away from zero; every total is an exact sum of those cents
CENT = Decimal("0.01")


def to_cents(value: Fraction | Decimal) -> Decimal:
    """``value`` rounded to cents, half away from zero, in exact rational arithmetic."""
    q = Fraction(value) * 100
    cents = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    return (Decimal(cents if q >= 0 else -cents) * CENT).quantize(CENT)


def spend_reporting(world: World, ad_day, as_of: datetime, currency: str) -> Decimal:
    """An ad-day's spend in the reporting currency, in cents (ECB rates as published at ``as_of``).

    Spend already in the reporting currency needs no rate; otherwise both legs come from the last
    publication on or before the day (EUR = 1), converted exactly and rounded once."""
    native = world.currency_of(ad_day.ad)
    if native == currency:
        return to_cents(ad_day.spend)
    rate_date, from_rate = world.fx_rate(native, ad_day.day, as_of)
    _, to_rate = (rate_date, Decimal(1)) if currency == "EUR" else world.fx_rate(currency, rate_date, as_of)
    return to_cents(Fraction(ad_day.spend) * Fraction(to_rate) / Fraction(from_rate))


def channel_mapping(path: Path = SEEDS / "channel_mapping.csv") -> dict[tuple[str, str], str]:
    """(source_type, source_value) -> channel: configuration shared with the pipeline."""
    with path.open() as fh:
        return {(r["source_type"], r["source_value"]): r["channel"] for r in csv.DictReader(fh)}


def norm(value: str | None) -> str | None:
    """A utm_campaign, campaign name or alias compared case- and whitespace-insensitively."""
    if value is None:
        return None
    return re.sub(r"\s+", " ", value.strip().lower()) or None


def campaign_aliases(path: Path = SEEDS / "campaign_aliases.csv") -> dict[str, tuple[str, str]]:
    """A marketer's aliases (configuration shared with the pipeline, seeds/campaign_aliases.csv):
    normalised ``alias`` -> (platform, campaign_id). An alias naming two campaigns means
    neither (it is dropped, as an ambiguous campaign name is)."""
    found: dict[str, set[tuple[str, str]]] = {}
    with path.open() as fh:
        for r in csv.DictReader(fh):
            key = norm(r["alias"])
            if key is not None:
                found.setdefault(key, set()).add((r["platform"], r["campaign_id"]))
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1}


def platform_channel(platform: str) -> str:
    return channel_mapping().get(("platform", platform), "other")


def contact_channel(contact) -> str:
    """A contact's channel: its true campaign's platform; organic contacts arrive direct."""
    if contact.source_campaign is not None:
        return platform_channel(contact.source_campaign.platform)
    return channel_mapping().get(("crm_source", "DIRECT_TRAFFIC"), "other")


def deal_person(world: World, deal, as_of: datetime):
    """The person a deal counts for, or None when the CRM has none of its people.

    Salesforce: the primary OpportunityContactRole (``deal.contact_id``). HubSpot labels no deal
    -> contact association as primary, so the rule written in core.fct_deal: of the deal's
    associated people (``contact_id`` and its ``committee``), each followed through merges to its
    surviving record, the one created first (the smaller id on a tie)."""
    if "hubspot" not in world.config.crms:
        c = world.contact_by_id.get(deal.contact_id)
        return c if c is not None and c.visible(as_of) else None
    found = []
    for cid in [deal.contact_id, *deal.committee]:
        c = world.contact_by_id.get(cid)
        while c is not None and c.merged_into is not None and c.merged_at <= as_of:
            c = world.contact_by_id.get(c.merged_into)
        if c is not None and c.visible(as_of):
            found.append(c)
    return min(found, key=lambda c: (c.created_at, c.contact_id), default=None)


@dataclass(frozen=True)
class TruthConfig:
    reporting_currency: str = "USD"
    reporting_timezone: str = "America/New_York"


def month_of(t: datetime, tz: ZoneInfo) -> date:
    """First day of the month of ``t`` in the reporting time zone."""
    return t.astimezone(tz).date().replace(day=1)
