"""ECB rates are reference data: an environment with no ad platform or CRM configures nothing,
and the run says so at once (before any request or any warehouse write)."""

from __future__ import annotations

import pytest

from revops import pipeline
from revops.settings import Settings
from revops.sources.registry import get_spec


def bare(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_an_empty_environment_configures_no_source():
    s = bare()
    assert get_spec("ecb").configured(s)  # the public files are reachable by default...
    assert pipeline.configured_sources(s) == []  # ...but nothing needs converting


def test_run_says_no_source_is_configured_before_touching_anything(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with pytest.raises(pipeline.NoSourceConfigured, match="no source is configured"):
        pipeline.run(bare(warehouse_url=f"duckdb:///{path}"))
    assert not path.exists()


def test_ecb_runs_with_an_ad_platform():
    s = bare(meta_access_token="t", meta_account_ids=["1"])
    assert pipeline.configured_sources(s) == ["meta", "ecb"]


def test_a_crm_alone_needs_no_rates():
    assert pipeline.configured_sources(bare(hubspot_access_token="t")) == ["hubspot"]


def test_a_source_missing_a_setting_is_not_configured_and_names_it():
    spec = get_spec("meta")
    s = bare(meta_access_token="t")
    assert not spec.configured(s)
    assert spec.missing(s) == ["REVOPS_META_ACCOUNT_IDS"]
    assert get_spec("microsoft_ads").missing(bare(microsoft_ads_client_id="c")) == [
        "REVOPS_MICROSOFT_ADS_REFRESH_TOKEN", "REVOPS_MICROSOFT_ADS_DEVELOPER_TOKEN",
        "REVOPS_MICROSOFT_ADS_ACCOUNT_IDS"]
