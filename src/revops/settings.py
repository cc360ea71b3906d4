"""Settings from the environment (prefix ``REVOPS_``) or a ``.env`` file.

Secrets (tokens) are ``SecretStr``: they never print in logs, reprs or Prefect artifacts.
Nothing here is ever taken from a flow parameter.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PREFIX = "REVOPS_"

#: the currencies the ECB publishes a euro reference rate for today, and EUR itself (the
#: reporting currency must be convertible from every ad platform's currency through them).
#: Not the retired ones still in the history file (CYP, EEK, HRK, ...); BGN ends with Bulgaria's
#: euro on 2026-01-01 and RUB has been suspended since 2022-03-02.
ECB_CURRENCIES = frozenset((
    "EUR", "USD", "JPY", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK", "NOK",
    "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR", "NZD",
    "PHP", "SGD", "THB", "ZAR",
))

#: REVOPS_* variables the project reads outside Settings (not an unknown-name error):
#: the test suite's PostgreSQL and the deployment's working directory (deployments/prefect.yaml)
OTHER_VARIABLES = frozenset({"REVOPS_TEST_PG_DSN", "REVOPS_HOME",
                             # dbt's threads (revops.transform; default one per core)
                             "REVOPS_DBT_THREADS",
                             # DuckDB's memory limit (duckdb_config)
                             "REVOPS_DUCKDB_MEMORY_LIMIT"})

#: DuckDB's memory limit when ``REVOPS_DUCKDB_MEMORY_LIMIT`` is not set (see duckdb_config). The
#: models are written so that no query holds several large hash tables at once (DuckDB spills one
#: to disk, not several: core/int_contact_people.sql), so what a build needs does not grow with
#: the world: issue 15's large world (1M contacts, 9.5M raw rows) builds under 256MB (72 s) as
#: under 512MB (63 s) with the same rows; as one query dim_contact alone failed at 1GB. 512MB
#: keeps the sync under 1.5 GB at that size (bench/README.md, "Large world")
DUCKDB_MEMORY_LIMIT = "512MB"


#: PostgreSQL settings for every session the project opens (our warehouse connection and dbt's),
#: unless ``PGOPTIONS`` or the warehouse URL's ``options`` sets them. ``jit``: PostgreSQL
#: JIT-compiles a query whose estimated cost passes ``jit_above_cost``; the models' estimates run
#: to hundreds of millions however small the tables, and compiling their plans took most of the
#: time: ``core.int_contact_people`` at a quarter of the large world 7.8-8.8 s with JIT, 3.1-3.6 s
#: without (7.0 s of "JIT Total" in its EXPLAIN ANALYZE; bench/README.md)
POSTGRES_SESSION = {"jit": "off"}


def postgres_options(given: str | None = None) -> str:
    """libpq's ``options`` for a session: ``given`` (the URL's or ``PGOPTIONS``) plus
    :data:`POSTGRES_SESSION`'s settings it does not set itself."""
    given = (given or "").strip()
    named = {m.replace("-", "_") for m in re.findall(r"(?:-c\s*|--)([\w.-]+)=", given)}
    extra = " ".join(f"-c {k}={v}" for k, v in POSTGRES_SESSION.items() if k not in named)
    return " ".join(p for p in (given, extra) if p)


def postgres_connect_args(url: str) -> dict[str, str]:
    """``create_engine``'s ``connect_args`` for a warehouse URL: on PostgreSQL, libpq's
    ``options`` (the URL's, else ``PGOPTIONS``) with :data:`POSTGRES_SESSION` (see
    :func:`postgres_options`); nothing for DuckDB."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if not u.drivername.startswith("postgresql"):
        return {}
    given = u.query.get("options")
    return {"options": postgres_options(given if isinstance(given, str) else os.environ.get("PGOPTIONS"))}


def duckdb_config() -> dict[str, str]:
    """Settings for every DuckDB connection the project opens (our warehouse connection and
    dbt's profile): ``memory_limit`` from ``REVOPS_DUCKDB_MEMORY_LIMIT`` (a DuckDB size such as
    ``1GB``; unset: :data:`DUCKDB_MEMORY_LIMIT`; empty: DuckDB's own default, 80 % of RAM).
    DuckDB keeps the blocks it read cached up to its limit, so without one a sync's memory grows
    with the warehouse (bench/README.md, "Large world"); past the limit it spills to
    ``<file>.tmp``. Read from the environment, as ``REVOPS_DBT_THREADS`` is: every ``Warehouse``
    opens a connection and few are given settings."""
    limit = os.environ.get("REVOPS_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT).strip()
    return {"memory_limit": limit} if limit else {}


#: a list setting: a JSON list (``["123","456"]``) or comma-separated (``123,456``)
StrList = Annotated[list[str], NoDecode]


class SettingsError(ValueError):
    """The settings are wrong; each problem names the variable to fix (never a secret's value)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def env_name(field: str) -> str:
    return f"{PREFIX}{field.upper()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
    marketing_teams: StrList = Field(default_factory=lambda: ["Marketing"])
    #: ad platforms whose ads' own URL tags identify a lead's campaign (docs/metrics.md, "Lead
    #: source resolution"); empty: resolve by aliases, ids and names only
    url_tag_platforms: StrList = Field(default_factory=lambda: ["meta", "google_ads", "microsoft_ads"])
    start_date: date = Field(
        default=date(2026, 6, 1), description="first day pulled on an empty warehouse"
    )

    # --- Meta Marketing API ----------------------------------------------------------
    meta_base_url: str = "https://graph.facebook.com"
    meta_api_version: str = "v24.0"
    meta_access_token: SecretStr | None = None
    meta_account_ids: StrList = Field(default_factory=list, description="act ids, no act_ prefix")
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
    google_ads_customer_ids: StrList = Field(default_factory=list, description="digits only")
    google_ads_lookback_days: int = 14

    # --- LinkedIn Marketing API (adAnalytics) ---------------------------------------------
    linkedin_base_url: str = "https://api.linkedin.com/rest"
    linkedin_version: str = "202610"
    linkedin_access_token: SecretStr | None = None
    linkedin_account_ids: StrList = Field(default_factory=list, description="sponsoredAccount ids")
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
    microsoft_ads_account_ids: StrList = Field(default_factory=list)
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

    def __init__(self, **values: Any):
        env_file = values.get("_env_file", type(self).model_config.get("env_file"))
        unknown = unknown_variables(_variable_names(env_file))
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError([_problem(e) for e in exc.errors()] + unknown) from None
        if unknown:
            raise SettingsError(unknown)

    @field_validator("*", mode="before")
    @classmethod
    def _lists(cls, value: Any, info: Any) -> Any:
        """List settings from the environment: a JSON list or comma-separated values."""
        if not isinstance(value, str) or info.field_name not in _LIST_FIELDS:
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"not a JSON list ({exc.msg}); write [\"a\",\"b\"] or a,b") from None
            if not isinstance(parsed, list):
                raise ValueError("not a list; write [\"a\",\"b\"] or a,b")
            return [str(v) for v in parsed]
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in ECB_CURRENCIES:
            hint = (f"; did you mean {value.upper()}?" if value.upper() in ECB_CURRENCIES
                    else f"; use one of {', '.join(sorted(ECB_CURRENCIES))}")
            raise ValueError(f"{value!r} is not an upper-case ISO 4217 code the ECB publishes{hint}")
        return value

    @field_validator("reporting_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"{value!r} is not an IANA time zone{hint}") from None
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _warehouse(cls, value: str) -> str:
        return normalise_warehouse_url(value)

    @property
    def is_duckdb(self) -> bool:
        return self.warehouse_url.startswith("duckdb")


_LIST_FIELDS = frozenset(
    name for name, f in Settings.model_fields.items() if f.annotation == list[str]
)


def normalise_warehouse_url(url: str) -> str:
    """DuckDB or PostgreSQL (``postgres://`` and ``postgresql://`` become psycopg 3's
    ``postgresql+psycopg://``); anything else is an error that names the scheme only (a URL
    may hold a password)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if sep and scheme == "duckdb":
        return url
    raise ValueError(
        f"unsupported warehouse {scheme if sep else url[:20]!r}: use duckdb:///path or "
        "postgresql+psycopg://user:password@host/db")


def _problem(error: Any) -> str:
    """One pydantic error as ``REVOPS_NAME: what is wrong`` (the input value is left out: it
    may be a secret)."""
    field = str(error["loc"][0]) if error.get("loc") else ""
    msg = error["msg"].removeprefix("Value error, ")
    return f"{env_name(field)}: {msg}" if field in Settings.model_fields else msg


def _variable_names(env_file: Any) -> dict[str, str]:
    """``REVOPS_*`` names in the environment and in the .env file(s) Settings reads, each with
    where it was found."""
    names = {k.upper(): "the environment" for k in os.environ if k.upper().startswith(PREFIX)}
    files = env_file if isinstance(env_file, (list, tuple)) else [env_file] if env_file else []
    for path in files:
        if Path(path).is_file():
            from dotenv import dotenv_values

            for k in dotenv_values(path):
                if k.upper().startswith(PREFIX):
                    names.setdefault(k.upper(), str(path))
    return names


def known_variables() -> list[str]:
    return sorted({env_name(n) for n in Settings.model_fields} | OTHER_VARIABLES)


def unknown_variables(names: dict[str, str]) -> list[str]:
    """A problem for each ``REVOPS_*`` name (-> where it was found) no setting has, with the
    closest known name."""
    known = known_variables()
    problems = []
    for name, where in names.items():
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; see .env.example for the known names"
        problems.append(f"{name} (in {where}) is not a setting{hint}")
    return problems


def settings_from_env(env: dict[str, str], **overrides: object) -> Settings:
    """Settings from a ``REVOPS_*`` variable map (as a sandbox hands them out), without reading
    a .env file; JSON-list values are parsed as pydantic-settings does for the environment."""
    kwargs: dict[str, object] = {
        key.removeprefix("REVOPS_").lower(): json.loads(value) if value.startswith("[") else value
        for key, value in env.items()
    }
    return Settings(_env_file=None, **{**kwargs, **overrides})


def env_file_line(key: str, value: str) -> str:
    """``KEY='value'`` as python-dotenv (and so Settings) reads it back unchanged: single quotes
    keep JSON lists and spaces literal; a value holding a quote or backslash goes in double
    quotes with those escaped."""
    if not any(c in value for c in "'\\\n"):
        return f"{key}='{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{key}="{escaped}"'


def write_env_file(path: str | os.PathLike[str], env: dict[str, str], header: str = "") -> Path:
    """A ``.env`` file of ``env`` (owner-only: it holds credentials). An existing file is
    replaced only when it starts with the same ``header`` (one this command wrote before)."""
    path = Path(path)
    head = f"# {header}\n" if header else ""
    if path.exists() and not (head and path.read_text(errors="replace").startswith(head)):
        raise FileExistsError(f"{path} exists and was not written by this command: "
                              "move it away or pass another path")
    text = head + "".join(env_file_line(k, v) + "\n" for k, v in env.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    path.chmod(0o600)
    return path


def get_settings() -> Settings:
    """Read afresh each call: a deployment's environment may change between runs."""
    return Settings()
