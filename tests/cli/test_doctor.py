"""``revops doctor`` against the sandbox servers: all well, then one broken setting per case."""

from __future__ import annotations

import pytest

from revops.doctor import FAILED, OK, SKIPPED, checks, healthy
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from tests.cli.run import clean_env, closed_port, revops

WORLD = World(WorldConfig(seed=7, days=5))


@pytest.fixture(scope="module")
def sb():
    with sandboxes(WORLD) as running:
        yield running


@pytest.fixture
def env(sb, tmp_path, monkeypatch) -> dict[str, str]:
    """The sandbox's variables and a DuckDB file, in this process's environment too."""
    values = {**sb.env, "REVOPS_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return values


def table_rows(stdout: str) -> dict[str, str]:
    """The printed table as ``{check: "status detail"}``, a cell's wrapped lines joined."""
    rows: dict[str, list[str]] = {}
    last = None
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[0]:
            last = cells[0]
            rows[last] = cells[1:]
        elif last:
            rows[last] = [f"{a} {b}".strip() for a, b in zip(rows[last], cells[1:], strict=True)]
    return {k: " ".join(v) for k, v in rows.items()}


def by_name(results) -> dict[str, tuple[str, str]]:
    return {c.what: (c.status, c.detail) for c in results}


def test_all_well_exits_0_and_lists_every_source(env, tmp_path):
    proc = revops("doctor", env=clean_env(tmp_path, **env), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = table_rows(proc.stdout)
    for source in ("meta", "hubspot", "google_ads", "linkedin", "microsoft_ads", "offline", "ecb"):
        assert rows[f"source {source}"].startswith("ok "), rows[f"source {source}"]
    assert rows["source salesforce"].startswith("skipped set REVOPS_SALESFORCE_CLIENT_ID")
    assert rows["warehouse"].startswith("ok ") and rows["prefect API"].startswith("skipped")
    for secret in (v for k, v in env.items() if k.endswith(("TOKEN", "SECRET"))):
        assert secret not in proc.stdout + proc.stderr


def test_a_wrong_token_fails_its_source_naming_the_variable(env, tmp_path):
    env = {**env, "REVOPS_META_ACCESS_TOKEN": "wrong-token-0000"}
    proc = revops("doctor", env=clean_env(tmp_path, **env), cwd=tmp_path)
    assert proc.returncode == 1
    meta = table_rows(proc.stdout)["source meta"]
    assert meta.startswith(FAILED) and "REVOPS_META_ACCESS_TOKEN" in meta
    assert "wrong-token-0000" not in proc.stdout


@pytest.mark.parametrize(("source", "variable"), [
    ("hubspot", "REVOPS_HUBSPOT_ACCESS_TOKEN"),
    ("google_ads", "REVOPS_GOOGLE_ADS_REFRESH_TOKEN"),
    ("linkedin", "REVOPS_LINKEDIN_ACCESS_TOKEN"),
    ("microsoft_ads", "REVOPS_MICROSOFT_ADS_REFRESH_TOKEN"),
    ("offline", "REVOPS_OFFLINE_SPEND_TOKEN"),
])
def test_each_sources_check_proves_its_credential(env, monkeypatch, source, variable):
    monkeypatch.setenv(variable, "not-the-token")
    results = by_name(checks())
    status, detail = results[f"source {source}"]
    assert status == FAILED and variable in detail, detail
    assert all(s == OK for what, (s, _) in results.items()
               if what.startswith("source ") and what not in (f"source {source}", "source salesforce"))
    assert "not-the-token" not in detail


def test_an_unreachable_base_url_fails_its_source(env, monkeypatch):
    monkeypatch.setenv("REVOPS_HUBSPOT_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    results = checks()
    status, detail = by_name(results)["source hubspot"]
    assert status == FAILED and "unreachable" in detail and "check REVOPS_HUBSPOT_BASE_URL" in detail
    assert not healthy(results)


def test_an_unreachable_ecb_fails_when_an_ad_platform_needs_it(env, monkeypatch):
    monkeypatch.setenv("REVOPS_ECB_BASE_URL", f"http://127.0.0.1:{closed_port()}/stats/eurofxref")
    status, detail = by_name(checks())["source ecb"]
    assert status == FAILED and "unreachable" in detail and "check REVOPS_ECB_BASE_URL" in detail


def test_a_bad_currency_fails_naming_the_variable(env, monkeypatch):
    monkeypatch.setenv("REVOPS_REPORTING_CURRENCY", "XYZ")
    results = checks()
    assert [c.status for c in results] == [FAILED]
    assert results[0].detail.startswith("REVOPS_REPORTING_CURRENCY: ")
    assert not healthy(results)


def test_an_unwritable_warehouse_path_fails(env, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the warehouse's folder should be")
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", f"duckdb:///{blocker / 'warehouse.duckdb'}")
    results = checks()
    status, detail = by_name(results)["warehouse"]
    assert status == FAILED and "REVOPS_WAREHOUSE_URL" in detail
    assert not healthy(results)


def test_a_warehouse_check_leaves_no_table(env, tmp_path):
    assert by_name(checks())["warehouse"][0] == OK
    from revops.load.warehouse import Warehouse

    with Warehouse(env["REVOPS_WAREHOUSE_URL"]) as wh:
        assert wh.fetch_all("select table_name from information_schema.tables "
                            "where table_schema = 'ops' and table_name like 'doctor_%'") == []


def test_a_prefect_api_that_does_not_answer_fails(env, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{closed_port()}/api")
    status, detail = by_name(checks())["prefect API"]
    assert status == FAILED and "PREFECT_API_URL" in detail


def test_nothing_configured_is_not_ready(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    results = by_name(checks())
    assert all(results[f"source {s}"][0] == SKIPPED for s in ("meta", "hubspot", "ecb"))
    assert results["sources"][0] == FAILED


def test_salesforce_check_logs_in_and_queries(tmp_path):
    from revops.sources.registry import get_spec

    world = World(WorldConfig(seed=7, days=5, platforms=("meta",), crms=("salesforce",)))
    with sandboxes(world) as running:
        spec = get_spec("salesforce")
        assert "answers queries" in spec.check(running.settings(http_max_retries=0))
        wrong = running.settings(http_max_retries=0, salesforce_refresh_token="not-the-token")
        with pytest.raises(Exception, match="REVOPS_SALESFORCE_REFRESH_TOKEN"):
            spec.check(wrong)
