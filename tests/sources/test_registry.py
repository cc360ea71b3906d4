"""One list of platforms: the production registry. The dbt project's ``ad_platforms`` var, the
channel mapping seed and the sandbox world's platforms and CRMs all equal what it says."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from revops.sources.registry import AD_PLATFORM, CRM, FX, SOURCE_NAMES, all_specs, names_of_kind

DBT = Path(__file__).resolve().parents[2] / "src" / "revops" / "dbt"


def test_every_source_has_a_kind_and_a_connector_class():
    specs = all_specs()
    assert [s.name for s in specs] == list(SOURCE_NAMES)
    for spec in specs:
        assert spec.kind in (AD_PLATFORM, CRM, FX), spec.name
        module, _, cls = spec.connector.partition(":")
        assert module == f"revops.sources.{spec.name}.streams" and cls, spec.connector


def test_dbt_ad_platforms_var_is_the_registrys_ad_platforms():
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text())
    assert project["vars"]["ad_platforms"] == list(names_of_kind(AD_PLATFORM)), (
        "dbt_project.yml vars.ad_platforms must list the registry's ad platforms, in its order"
    )


def test_channel_mapping_maps_exactly_the_registrys_ad_platforms():
    with (DBT / "seeds" / "channel_mapping.csv").open() as fh:
        platforms = [r["source_value"] for r in csv.DictReader(fh) if r["source_type"] == "platform"]
    assert len(platforms) == len(set(platforms))
    assert set(platforms) == set(names_of_kind(AD_PLATFORM))


def test_the_sandbox_world_takes_its_platforms_from_the_registry():
    from revops.sandbox.world import AD_PLATFORMS, CRMS

    assert AD_PLATFORMS == names_of_kind(AD_PLATFORM)
    assert CRMS == names_of_kind(CRM)
