"""Ground-truth KPIs, computed straight from the synthetic world, never through the pipeline:
the independent statement of every mart the tests compare the warehouse to.

``shared`` (the marts both departments share, and the demo's summary), ``funnel``, ``sales`` and
``attribution``, on ``common`` (reporting configuration, channels, spend in the reporting
currency). The shared marts and the configuration are re-exported here:
``truth.kpi_channel_daily(world)``, ``truth.TruthConfig``.
"""

from revops.sandbox.truth.common import (
    SEEDS,
    TruthConfig,
    campaign_aliases,
    channel_mapping,
    contact_channel,
    platform_channel,
    spend_reporting,
)
from revops.sandbox.truth.shared import (
    SCORECARD_COUNTS,
    SCORECARD_MONEY,
    SCORECARD_RATES,
    kpi_attribution_coverage,
    kpi_channel_daily,
    kpi_scorecard_monthly,
    kpi_targets_vs_actual,
    kpi_unresolved_campaigns,
    summary,
    targets,
)

__all__ = [
    "SCORECARD_COUNTS",
    "SCORECARD_MONEY",
    "SCORECARD_RATES",
    "SEEDS",
    "TruthConfig",
    "campaign_aliases",
    "channel_mapping",
    "contact_channel",
    "kpi_attribution_coverage",
    "kpi_channel_daily",
    "kpi_scorecard_monthly",
    "kpi_targets_vs_actual",
    "kpi_unresolved_campaigns",
    "platform_channel",
    "spend_reporting",
    "summary",
    "targets",
]
