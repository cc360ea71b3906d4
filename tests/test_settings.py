"""Settings are checked when they are read, before Prefect starts: every error names the
``REVOPS_*`` variable to fix."""

from __future__ import annotations

import pytest

from revops.settings import ECB_CURRENCIES, Settings, SettingsError, settings_from_env


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


def error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(SettingsError) as caught:
        settings(monkeypatch, **env)
    return str(caught.value)


def test_defaults_are_valid(monkeypatch):
    s = settings(monkeypatch)
    assert (s.reporting_currency, s.reporting_timezone) == ("USD", "America/New_York")
    assert s.warehouse_url == "duckdb:///data/warehouse.duckdb"


@pytest.mark.parametrize("currency", ["usd", "XYZ", "US", "CYP", ""])
def test_currency_must_be_an_upper_case_code_the_ecb_publishes(monkeypatch, currency):
    msg = error(monkeypatch, REVOPS_REPORTING_CURRENCY=currency)
    assert msg.startswith("REVOPS_REPORTING_CURRENCY: ")
    assert "reporting_currency" not in msg


def test_lower_case_currency_suggests_the_code(monkeypatch):
    assert "did you mean USD?" in error(monkeypatch, REVOPS_REPORTING_CURRENCY="usd")


@pytest.mark.parametrize("currency", ["EUR", "GBP", "JPY", "CHF"])
def test_ecb_currencies_and_eur_are_accepted(monkeypatch, currency):
    assert currency in ECB_CURRENCIES
    assert settings(monkeypatch, REVOPS_REPORTING_CURRENCY=currency).reporting_currency == currency


def test_time_zone_must_be_iana(monkeypatch):
    msg = error(monkeypatch, REVOPS_REPORTING_TIMEZONE="America/NewYork")
    assert msg.startswith("REVOPS_REPORTING_TIMEZONE: ")
    assert "did you mean America/New_York?" in msg
    assert settings(monkeypatch, REVOPS_REPORTING_TIMEZONE="Europe/Berlin").reporting_timezone == "Europe/Berlin"


@pytest.mark.parametrize(("wrong", "right"), [
    ("REVOPS_META_ACESS_TOKEN", "REVOPS_META_ACCESS_TOKEN"),
    ("REVOPS_REPORTING_CURENCY", "REVOPS_REPORTING_CURRENCY"),
    ("revops_hubspot_acess_token", "REVOPS_HUBSPOT_ACCESS_TOKEN"),
])
def test_unknown_variable_suggests_the_closest_name(monkeypatch, wrong, right):
    msg = error(monkeypatch, **{wrong: "s3cret-value"})
    assert f"did you mean {right}?" in msg
    assert "s3cret-value" not in msg


def test_unknown_variable_in_the_env_file(monkeypatch, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("REVOPS_LINKEDIN_ACOUNT_IDS=1,2\n")
    with pytest.raises(SettingsError, match="did you mean REVOPS_LINKEDIN_ACCOUNT_IDS") as caught:
        Settings(_env_file=env_file)
    assert f"REVOPS_LINKEDIN_ACOUNT_IDS (in {env_file})" in str(caught.value)


def test_variables_read_outside_settings_are_allowed(monkeypatch):
    settings(monkeypatch, REVOPS_TEST_PG_DSN="host=127.0.0.1", REVOPS_HOME="/srv/revops")


@pytest.mark.parametrize(("value", "want"), [
    ("123,456", ["123", "456"]),
    (" 123 , 456 ,", ["123", "456"]),
    ('["123", "456"]', ["123", "456"]),
    ("[123, 456]", ["123", "456"]),
    ("123", ["123"]),
])
def test_lists_are_json_or_comma_separated(monkeypatch, value, want):
    assert settings(monkeypatch, REVOPS_META_ACCOUNT_IDS=value).meta_account_ids == want


def test_a_bad_list_names_the_variable(monkeypatch):
    msg = error(monkeypatch, REVOPS_GOOGLE_ADS_CUSTOMER_IDS='["123", 456')
    assert msg.startswith("REVOPS_GOOGLE_ADS_CUSTOMER_IDS: ")
    assert "google_ads_customer_ids" not in msg


def test_lists_from_a_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text('REVOPS_META_ACCOUNT_IDS=123,456\nREVOPS_LINKEDIN_ACCOUNT_IDS=\'["7"]\'\n')
    s = Settings(_env_file=env_file)
    assert (s.meta_account_ids, s.linkedin_account_ids) == (["123", "456"], ["7"])


@pytest.mark.parametrize("url", [
    "postgres://u:pw@db:5432/revops", "postgresql://u:pw@db:5432/revops",
    "postgresql+psycopg://u:pw@db:5432/revops",
])
def test_postgres_urls_become_psycopg(monkeypatch, url):
    got = settings(monkeypatch, REVOPS_WAREHOUSE_URL=url).warehouse_url
    assert got == "postgresql+psycopg://u:pw@db:5432/revops"


@pytest.mark.parametrize("url", ["mysql://u:hunter2@db/revops", "sqlite:///x.db", "data/warehouse.duckdb"])
def test_other_warehouses_are_unsupported_at_settings_time(monkeypatch, url):
    msg = error(monkeypatch, REVOPS_WAREHOUSE_URL=url)
    assert msg.startswith("REVOPS_WAREHOUSE_URL: unsupported warehouse")
    assert "duckdb:///path" in msg and "postgresql+psycopg://" in msg
    assert "hunter2" not in msg


def test_errors_are_collected_and_keep_secrets_out(monkeypatch):
    with pytest.raises(SettingsError) as caught:
        settings(monkeypatch, REVOPS_REPORTING_CURRENCY="usd", REVOPS_REPORTING_TIMEZONE="Mars/Olympus",
                 REVOPS_HTTP_MAX_RETRIES="many", REVOPS_META_ACCESS_TOKEN="tok-123")
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "REVOPS_REPORTING_CURRENCY", "REVOPS_REPORTING_TIMEZONE", "REVOPS_HTTP_MAX_RETRIES"]
    assert "tok-123" not in str(caught.value)


def test_settings_from_env_takes_json_lists():
    s = settings_from_env({"REVOPS_META_ACCOUNT_IDS": '["1", "2"]', "REVOPS_REPORTING_CURRENCY": "EUR"})
    assert (s.meta_account_ids, s.reporting_currency) == (["1", "2"], "EUR")


def test_env_example_loads_as_is():
    from pathlib import Path

    s = Settings(_env_file=Path(__file__).parents[1] / ".env.example")
    assert s.meta_account_ids == ["1234567890"] and s.reporting_currency == "USD"


def test_every_variable_the_docs_name_is_a_setting():
    import re
    from pathlib import Path

    from revops.settings import known_variables

    root = Path(__file__).parents[1]
    files = [root / ".env.example", root / "README.md", *(root / "docs").rglob("*.md"),
             *(root / "src/revops").rglob("README.md"), *(root / "deployments").rglob("*.*")]
    named = {(f.name, m) for f in files
             for m in re.findall(r"(?<![A-Z0-9_])REVOPS_[A-Z0-9_]*[A-Z0-9]\b", f.read_text(errors="ignore"))}
    assert len(named) > 50
    assert sorted(n for n in named if n[1] not in known_variables()) == []
