"""``revops demo`` keeps each world in a warehouse of its own: a second world after the first
(``make demo``, then ``revops demo --days 30``) matches its own ground truth."""

from __future__ import annotations

import pytest

from tests.cli.run import clean_env, revops

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_two_worlds_in_a_row_each_match_their_truth(tmp_path):
    env = clean_env(tmp_path)
    for days in (15, 20):
        proc = revops("demo", "--seed", "3", "--days", str(days), env=env, cwd=tmp_path, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "does not match" not in proc.stdout
        assert "~20 s" not in proc.stdout + proc.stderr
        home = tmp_path / "data" / "demo" / f"seed3-days{days}"
        assert (home / "warehouse.duckdb").is_file()
        assert (home / "report" / "kpi_report.html").is_file()
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
