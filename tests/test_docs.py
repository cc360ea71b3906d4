"""docs/ stays true: the data dictionary and the metrics glossary are generated from the model yml
(the text dbt also writes into the PostgreSQL comments), and the deployment file points at a flow
that exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from revops.report.docs import (
    mart_models,
    meta,
    render_data_dictionary,
    render_description,
    render_metrics_glossary,
)
from revops.transform import PROJECT_DIR

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "run `.venv/bin/python -m revops.report.docs --write`"


def test_data_dictionary_is_generated_from_the_models():
    committed = (ROOT / "docs" / "data_dictionary.md").read_text()
    assert committed == render_data_dictionary(), f"docs/data_dictionary.md drifted from the model yml: {REGENERATE}"


def test_metrics_glossary_is_generated_from_the_models():
    committed = (ROOT / "docs" / "metrics.md").read_text()
    assert committed == render_metrics_glossary(), (
        f"docs/metrics.md drifted from the mart yml / models/marts/_glossary.md: {REGENERATE}"
    )


def test_every_mart_in_the_glossary():
    glossary = (ROOT / "docs" / "metrics.md").read_text()
    marts = sorted(p.stem for p in (ROOT / "src/revops/dbt/models/marts").glob("*.sql"))
    assert marts
    assert sorted(mart_models()) == marts, "every mart .sql has a yml entry and no yml entry lacks its model"
    for mart in marts:
        assert f"marts.{mart}" in glossary
        assert meta(mart_models()[mart]).get("grain"), f"{mart}: config.meta.grain is the glossary's grain"


#: marts that describe the pipeline's runs, not the company: no world truth (kpi_data_freshness is
#: proven against the faults injected in tests/faults/test_degraded_source.py)
RUN_MARTS = {"kpi_data_freshness"}


def _truths() -> dict[str, list[dict]]:
    """The sandbox's ground truth of every mart: an independent statement of the marts' columns
    and their types (the mart tests assert the marts equal it)."""
    from revops.sandbox import truth
    from revops.sandbox.truth import attribution as truth_attribution, funnel as truth_funnel, sales as truth_sales
    from revops.sandbox.world import World, WorldConfig

    from tests.conftest import MART_WORLD_CONFIG

    world = World(WorldConfig(**MART_WORLD_CONFIG))
    out = {}
    for name in mart_models():
        if name in RUN_MARTS:
            continue
        module = next(m for m in (truth, truth_funnel, truth_sales, truth_attribution) if hasattr(m, name))
        # every value of this world resolves (URL tags carry even the names no sync saw): the
        # rule without URL tags leaves the renamed campaigns' old names, rows of the same columns
        kw = {"url_tags": False} if name == "kpi_unresolved_campaigns" else {}
        out[name] = getattr(module, name)(world, **kw)
        assert out[name], f"the test world must give {name} rows"
    return out


def test_every_numeric_kpi_has_a_formula():
    """Every number a mart publishes (counts, amounts, rates, costs, ratios, medians, changes) has
    a formula in the yml; which columns are numbers comes from the ground truth, not the yml."""
    missing = []
    for name, rows in _truths().items():
        cols = {c["name"]: c for c in mart_models()[name].get("columns", [])}
        numeric = {
            k for r in rows for k, v in r.items()
            if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
        }
        assert numeric, name
        for col in sorted(numeric):
            if col not in cols:
                missing.append(f"{name}.{col}: not documented in the yml")
            elif not str(meta(cols[col]).get("formula", "")).strip():
                missing.append(f"{name}.{col}: no config.meta.formula")
            elif not cols[col].get("description", "").strip():
                missing.append(f"{name}.{col}: no description (the column comment)")
    assert missing == []


def test_null_rules_reach_the_comments():
    """A KPI whose glossary entry says when it is NULL says so in its own description too: the
    comment a BI user reads must not be silent about zero denominators."""
    silent = [
        f"{name}.{c['name']}"
        for name, model in mart_models().items()
        for c in model.get("columns", [])
        if "NULL when" in str(meta(c).get("edge_cases", "")) and "NULL" not in c.get("description", "")
        and not c["name"].endswith("_change")  # their NULL rule is in the model description
    ]
    assert silent == []


def test_docs_show_resolved_text_not_jinja():
    for text in (render_data_dictionary(), render_metrics_glossary()):
        assert "{{" not in text and "doc(" not in text and "{%" not in text
    # the shared text reaches the mart comments
    assert "whitespace-insensitively" in render_description(mart_models()["kpi_attribution_coverage"]["description"])


@pytest.fixture(scope="module")
def parsed_marts(tmp_path_factory) -> dict:
    """dbt's own manifest of the marts: the project copied aside with every non-mart model
    replaced by a stub (so the marts parse whatever state core and staging are in), parsed by dbt
    with its yml schema validation switched on (dbt-core runs it only for some adapters)."""
    tmp = tmp_path_factory.mktemp("dbt-parse")
    proj = tmp / "dbt"
    shutil.copytree(PROJECT_DIR, proj, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.rmtree(proj / "snapshots")
    (proj / "snapshots").mkdir()
    for path in list((proj / "models").rglob("*")):
        if path.is_file() and "marts" not in path.relative_to(proj / "models").parts:
            if path.suffix == ".sql":
                path.write_text("select 1 as stub\n")
            else:
                path.unlink()
    (tmp / "profiles.yml").write_text(yaml.safe_dump(
        {"revops": {"target": "t", "outputs": {"t": {"type": "duckdb", "path": str(tmp / "x.duckdb"), "threads": 1}}}}
    ))
    code = (
        "import dbt.jsonschemas.jsonschemas as j; j._JSONSCHEMA_SUPPORTED_ADAPTERS.add('duckdb'); "
        "from dbt.cli.main import cli; cli()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "parse", "--no-partial-parse", "--show-all-deprecations", "--no-use-colors",
         "--project-dir", str(proj), "--profiles-dir", str(tmp), "--target-path", str(tmp / "target"),
         "--log-path", str(tmp / "logs")],
        capture_output=True, text=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    return {"stdout": proc.stdout, "nodes": manifest["nodes"]}


def test_dbt_accepts_the_glossary_metadata(parsed_marts):
    """meta under config (dbt >= 1.10), docs blocks: no deprecation or custom-key warning."""
    assert "WARNING" not in parsed_marts["stdout"], parsed_marts["stdout"]
    node = parsed_marts["nodes"]["model.revops.kpi_channel_daily"]
    assert node["config"]["meta"]["grain"] and node["columns"]["cpl"]["config"]["meta"]["formula"]


def test_comments_are_the_documented_text(parsed_marts):
    """persist_docs writes the manifest's rendered descriptions as COMMENT ON; they are exactly
    the text the data dictionary shows (doc() references resolved the way dbt resolves them)."""
    for name, model in mart_models().items():
        node = parsed_marts["nodes"][f"model.revops.{name}"]
        assert node["description"].strip() == render_description(model.get("description")), name
        for col in model.get("columns", []):
            got = node["columns"][col["name"]]["description"].strip()
            assert got == render_description(col.get("description")), f"{name}.{col['name']}"


def test_deployment_entrypoint_exists_and_has_no_secrets():
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    deps = {d["name"]: d for d in spec["deployments"]}
    assert set(deps) == {"nightly", "backfill"}
    for dep in deps.values():
        path, func = dep["entrypoint"].split(":")
        source = (ROOT / path).read_text()
        assert f"def {func}(" in source
        assert "token" not in yaml.safe_dump(dep.get("parameters", {})).lower()
    nightly = deps["nightly"]
    assert nightly["schedules"][0]["cron"] and nightly["schedules"][0]["timezone"]
