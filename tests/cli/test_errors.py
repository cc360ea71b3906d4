"""A failing command prints one line that names what to fix and where the full traceback was
written (a log file under the data dir, secrets scrubbed); ``--debug`` prints the traceback."""

from __future__ import annotations

import pytest

from revops.errors import report, what_to_fix, write_log
from revops.sandbox.harness import sandboxes
from revops.sandbox.world import World, WorldConfig
from revops.sources.errors import FatalAPIError
from tests.cli.run import clean_env, error_line, log_of, revops


def test_bad_settings_are_one_line_naming_the_variables(tmp_path):
    env = clean_env(tmp_path, REVOPS_REPORTING_CURRENCY="usd", REVOPS_META_ACESS_TOKEN="tok-typo-123")
    proc = revops("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one line, nothing else
    line = error_line(proc)
    assert "REVOPS_REPORTING_CURRENCY" in line and "did you mean USD?" in line
    assert "did you mean REVOPS_META_ACCESS_TOKEN?" in line
    log = tmp_path / log_of(line)
    assert log.parent == tmp_path / "data" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "SettingsError" in text
    assert "tok-typo-123" not in text + proc.stdout + proc.stderr


def test_debug_prints_the_traceback_instead(tmp_path):
    env = clean_env(tmp_path, REVOPS_REPORTING_TIMEZONE="America/NewYork")
    proc = revops("--debug", "sync", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "REVOPS_REPORTING_TIMEZONE" in proc.stderr
    assert "error: " not in proc.stderr
    assert not (tmp_path / "data" / "logs").exists()


def test_an_empty_environment_says_no_source_is_configured_before_prefect_starts(tmp_path):
    proc = revops("sync", env=clean_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "no source is configured" in error_line(proc)
    assert "Prefect" not in proc.stdout + proc.stderr and "temporary server" not in proc.stderr
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_an_unsupported_warehouse_is_a_settings_error_without_its_password(tmp_path):
    env = clean_env(tmp_path, REVOPS_WAREHOUSE_URL="mysql://revops:hunter2@db/revops")
    proc = revops("sync", env=env, cwd=tmp_path)
    line = error_line(proc)
    assert "REVOPS_WAREHOUSE_URL: unsupported warehouse 'mysql'" in line
    assert "hunter2" not in proc.stderr + (tmp_path / log_of(line)).read_text()


def test_a_settings_error_in_a_env_file_names_the_file(tmp_path):
    (tmp_path / ".env").write_text("REVOPS_HUBSPOT_ACESS_TOKEN=pat-na1-0000\n")
    line = error_line(revops("sync", env=clean_env(tmp_path), cwd=tmp_path))
    assert "REVOPS_HUBSPOT_ACESS_TOKEN (in .env)" in line
    assert "did you mean REVOPS_HUBSPOT_ACCESS_TOKEN?" in line


@pytest.mark.slow
@pytest.mark.e2e
def test_a_fatal_api_error_names_the_source_and_the_variable(prefect_api, tmp_path):
    """A real sync (in-process, no Prefect API configured; the sandboxes) of Meta alone, its token
    revoked: every source of the run failed, so the run fails (exit 1) with Meta's error as its
    line. (With other sources fresh the run degrades instead, exit code 3: tests/faults/.)"""
    world = World(WorldConfig(seed=5, days=5, platforms=("meta",)))
    with sandboxes(world) as sb:
        env = clean_env(tmp_path, **{**sb.env, "REVOPS_META_ACCESS_TOKEN": "revoked-token-4711"},
                        REVOPS_WAREHOUSE_URL=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
                        PREFECT_API_URL=prefect_api)
        proc = revops("sync", "--source", "meta", env=env, cwd=tmp_path)
        secrets = [v for k, v in env.items() if k.startswith("REVOPS_") and k.endswith(("TOKEN", "SECRET"))]
    assert proc.returncode == 1
    line = error_line(proc)
    assert line.startswith("error: meta: ") and "REVOPS_META_ACCESS_TOKEN" in line
    assert "Traceback" not in proc.stderr  # Prefect's console records lose theirs too
    text = (tmp_path / log_of(line)).read_text()
    assert "Traceback (most recent call last)" in text and "FatalAPIError" in text
    assert "revoked-token-4711" in secrets and len(secrets) >= 2
    for secret in secrets:
        assert secret not in text + proc.stdout + proc.stderr


def test_the_log_and_the_line_scrub_secret_values(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REVOPS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("REVOPS_HUBSPOT_ACCESS_TOKEN", "pat-na1-supersecret")
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", "postgresql+psycopg://revops:pg-pass-99@db/revops")
    try:
        raise RuntimeError("boom with pat-na1-supersecret and postgresql://revops:pg-pass-99@db")
    except RuntimeError as exc:
        text = write_log(exc, ["sync"]).read_text()
        assert report(exc) == 1
    line = capsys.readouterr().err
    for got in (text, line):
        assert "boom with ***" in got
        assert "pat-na1-supersecret" not in got and "pg-pass-99" not in got


def test_a_fatal_error_without_its_variable_gets_it_named():
    line = what_to_fix(FatalAPIError("linkedin: HTTP 403: not allowed"))
    assert line.startswith("linkedin: HTTP 403") and "REVOPS_LINKEDIN_ACCESS_TOKEN" in line


def test_an_unexpected_error_names_its_file_and_line():
    try:
        {}["missing"]
    except KeyError as exc:
        line = what_to_fix(exc)
    assert line.startswith("KeyError: 'missing' (at ") and "test_errors.py:" in line
