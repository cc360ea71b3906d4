"""docs/data_dictionary.md is generated from the dbt model yml (the same text dbt writes into
PostgreSQL comments), so the dictionary, the comments and the models cannot drift apart.

Regenerate: ``python -m revops.report.docs > docs/data_dictionary.md`` (a test fails on drift).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from revops.transform import PROJECT_DIR

LAYERS = (("core", "core"), ("marts", "marts"))


def render_data_dictionary(project_dir: Path = PROJECT_DIR) -> str:
    out = [
        "# Data dictionary",
        "",
        "Generated from `src/revops/dbt/models/**/*.yml` by `python -m revops.report.docs`; do not edit by hand.",
        "Timestamps (`*_at`) are UTC. Money without a suffix is in the reporting currency",
        "(`REVOPS_REPORTING_CURRENCY`); `*_native` money is in the row's `currency`.",
        "",
    ]
    for folder, schema in LAYERS:
        for yml in sorted((project_dir / "models" / folder).glob("*.yml")):
            for model in yaml.safe_load(yml.read_text()).get("models", []):
                out += [f"## `{schema}.{model['name']}`", "", model.get("description", "").strip(), ""]
                cols = model.get("columns", [])
                if cols:
                    out += ["| column | description |", "|---|---|"]
                    out += [f"| `{c['name']}` | {c.get('description', '').strip()} |" for c in cols]
                    out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render_data_dictionary(), end="")
