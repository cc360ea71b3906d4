"""Settings from the environment (prefix ``REVOPS_``) or a ``.env`` file.

Secrets (tokens) are ``SecretStr``: they never print in logs, reprs or Prefect artifacts.
Nothing here is ever taken from a flow parameter.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REVOPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- warehouse -------------------------------------------------------------------
    warehouse_url: str = Field(
        default="duckdb:///data/warehouse.duckdb",
        description="SQLAlchemy URL: duckdb:///path or postgresql+psycopg://user:pw@host/db",
    )
    data_dir: Path = Field(default=Path("data"), description="dbt target, logs, reports")
    #: PostgreSQL login role for BI tools: SELECT on `marts` only (`revops warehouse grant`)
    bi_role: str = "revops_bi"
    bi_password: SecretStr | None = None

    # --- reporting -------------------------------------------------------------------
    reporting_currency: str = "USD"
    reporting_timezone: str = "America/New_York"
    #: hours sales has to make the first touch on an MQL (kpi_lead_response)
    lead_response_sla_hours: float = 24.0
    start_date: date = Field(
        default=date(2026, 6, 1), description="first day pulled on an empty warehouse"
    )

    # --- Meta Marketing API ----------------------------------------------------------
    meta_base_url: str = "https://graph.facebook.com"
    meta_api_version: str = "v24.0"
    meta_access_token: SecretStr | None = None
    meta_account_ids: list[str] = Field(default_factory=list, description="act ids, no act_ prefix")
    meta_lookback_days: int = 28
    meta_page_size: int = 500
    meta_lead_action_type: str = "lead"

    # --- HubSpot CRM -----------------------------------------------------------------
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_access_token: SecretStr | None = None
    hubspot_lookback_minutes: int = 10
    hubspot_rejection_reason_property: str = "lead_rejection_reason"
    hubspot_rejected_at_property: str = "lead_rejected_date"
    hubspot_utm_campaign_property: str = "utm_campaign"

    # --- HTTP behaviour ----------------------------------------------------------------
    http_timeout_seconds: float = 60.0
    http_max_retries: int = 5
    http_max_backoff_seconds: float = 60.0

    @property
    def is_duckdb(self) -> bool:
        return self.warehouse_url.startswith("duckdb")


def settings_from_env(env: dict[str, str], **overrides: object) -> Settings:
    """Settings from a ``REVOPS_*`` variable map (as a sandbox hands them out), without reading
    a .env file; JSON-list values are parsed as pydantic-settings does for the environment."""
    kwargs: dict[str, object] = {
        key.removeprefix("REVOPS_").lower(): json.loads(value) if value.startswith("[") else value
        for key, value in env.items()
    }
    return Settings(_env_file=None, **{**kwargs, **overrides})


def get_settings() -> Settings:
    """Read afresh each call: a deployment's environment may change between runs."""
    return Settings()
