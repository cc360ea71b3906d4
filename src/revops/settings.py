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

    #: key of the email pseudonyms in core (HMAC-SHA256); a secret: env or .env only
    email_hash_salt: SecretStr | None = None

    # --- reporting -------------------------------------------------------------------
    reporting_currency: str = "USD"
    reporting_timezone: str = "America/New_York"
    #: hours sales has to make the first touch on an MQL (kpi_lead_response)
    lead_response_sla_hours: float = 24.0
    #: CRM owner teams whose logged calls, emails and meetings are not sales touches
    marketing_teams: list[str] = Field(default_factory=lambda: ["Marketing"])
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

    # --- Google Ads API (REST searchStream) ----------------------------------------------
    google_ads_base_url: str = "https://googleads.googleapis.com"
    #: v22 was sunset on 2026-10-07; v26 (2026-10-14) is the newest, live until ~Oct 2027
    google_ads_api_version: str = "v26"
    google_ads_token_url: str = "https://oauth2.googleapis.com/token"
    google_ads_client_id: str | None = None
    google_ads_client_secret: SecretStr | None = None
    google_ads_refresh_token: SecretStr | None = None
    #: optional since the 2026-09-09 developer-token sunset; sent when set
    google_ads_developer_token: SecretStr | None = None
    #: manager (MCC) id, digits only, when the customers are reached through a manager
    google_ads_login_customer_id: str | None = None
    google_ads_customer_ids: list[str] = Field(default_factory=list, description="digits only")
    google_ads_lookback_days: int = 14

    # --- LinkedIn Marketing API (adAnalytics) ---------------------------------------------
    linkedin_base_url: str = "https://api.linkedin.com/rest"
    linkedin_version: str = "202610"
    linkedin_access_token: SecretStr | None = None
    linkedin_account_ids: list[str] = Field(default_factory=list, description="sponsoredAccount ids")
    linkedin_lookback_days: int = 30
    #: entity finders' pageSize (LinkedIn allows up to 1000)
    linkedin_page_size: int = 500
    #: adAnalytics answers at most this many rows, unpaged: an answer this long is truncated
    linkedin_analytics_row_limit: int = 15000

    # --- Microsoft Advertising (Reporting API v13) -----------------------------------------
    microsoft_ads_reporting_url: str = "https://reporting.api.bingads.microsoft.com"
    microsoft_ads_customer_url: str = "https://clientcenter.api.bingads.microsoft.com"
    microsoft_ads_campaign_url: str = "https://campaign.api.bingads.microsoft.com"
    microsoft_ads_token_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    microsoft_ads_client_id: str | None = None
    microsoft_ads_client_secret: SecretStr | None = None
    microsoft_ads_refresh_token: SecretStr | None = None
    microsoft_ads_developer_token: SecretStr | None = None
    microsoft_ads_customer_id: str | None = None
    microsoft_ads_account_ids: list[str] = Field(default_factory=list)
    microsoft_ads_lookback_days: int = 7
    microsoft_ads_poll_seconds: float = 5.0
    microsoft_ads_poll_timeout_seconds: float = 900.0

    # --- offline spend CSV (events, sponsorships, print) ------------------------------------
    #: a folder path or an http(s) URL of a folder listing; None = not used
    offline_spend_location: str | None = None
    #: bearer token for an http(s) location, if it needs one
    offline_spend_token: SecretStr | None = None

    # --- FX: ECB euro reference rates --------------------------------------------------------
    ecb_base_url: str = "https://www.ecb.europa.eu/stats/eurofxref"
    ecb_lookback_days: int = 7

    # --- Salesforce (REST API, OAuth refresh-token flow) ---------------------------------
    #: the login server that mints access tokens (test.salesforce.com for a sandbox org, or the
    #: org's My Domain); every other call goes to the ``instance_url`` it answers with
    salesforce_login_url: str = "https://login.salesforce.com"
    #: Spring '26 (the release current in the 2026 snapshot of the API notes)
    salesforce_api_version: str = "v66.0"
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_refresh_token: SecretStr | None = None
    #: minutes re-read behind the saved SystemModstamp (commits can land late)
    salesforce_lookback_minutes: int = 10
    #: Sforce-Query-Options batchSize (200-2000; Salesforce treats it as a hint)
    salesforce_batch_size: int = 2000
    #: the org's custom Lead fields (API names)
    salesforce_utm_campaign_field: str = "UTM_Campaign__c"
    salesforce_rejection_reason_field: str = "Disqualification_Reason__c"
    #: the org's custom Campaign field holding the utm_campaign value its ad links carry
    salesforce_campaign_utm_field: str = "UTM_Campaign__c"

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
