"""The build fingerprint (revops.transform.project_fingerprint) reads the dbt project's own files
and skips only dbt's output folders inside the project, wherever the project is installed."""

from __future__ import annotations

from revops import transform
from revops.settings import Settings


def test_a_project_under_a_folder_named_like_dbt_output_is_still_read(tmp_path, monkeypatch):
    project = tmp_path / "logs" / "target" / "dbt"  # an install path with dbt's folder names in it
    (project / "models").mkdir(parents=True)
    (project / "target").mkdir()
    model, output = project / "models" / "m.sql", project / "target" / "run.json"
    model.write_text("select 1 as x")
    output.write_text("{}")
    monkeypatch.setattr(transform, "PROJECT_DIR", project)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")

    before = transform.project_fingerprint(settings)
    output.write_text('{"other": "run"}')
    assert transform.project_fingerprint(settings) == before  # dbt's output is not an input
    model.write_text("select 2 as x")
    assert transform.project_fingerprint(settings) != before
