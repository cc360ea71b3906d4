"""docs/data_dictionary.md and docs/metrics.md are generated from the dbt model yml: the same text
dbt writes into the PostgreSQL comments (``persist_docs``), so the docs, the comments and the
models cannot drift apart.

Sources:

- model and column ``description``: the comments, and the data dictionary;
- mart model ``config.meta``: ``grain`` (markdown) and ``edge_cases`` (list of bullets);
- mart column ``config.meta``: ``formula``, ``edge_cases`` and ``kpi`` (display name);
- ``{% docs %}`` blocks in ``models/marts/_glossary.md``: the glossary's shared sections; mart
  descriptions reference them with ``{{ doc('name') }}``, which is resolved here exactly as dbt
  resolves it (docs block rendered and stripped, description rendered with ``doc``).

Regenerate both files: ``python -m revops.report.docs --write`` (a test fails on drift).
``python -m revops.report.docs [data-dictionary|metrics]`` prints one of them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import jinja2
import yaml

from revops.transform import PROJECT_DIR

LAYERS = (("core", "core"), ("marts", "marts"))
#: the repository's docs/ folder (source checkout)
DOCS_DIR = PROJECT_DIR.parents[2] / "docs"
REGENERATE = "python -m revops.report.docs --write"
#: the glossary's shared sections, in order: (title, docs block)
SHARED_SECTIONS = (
    ("Lead source resolution", "lead_source_resolution"),
    ("Funnel stage times", "funnel_stage_times"),
    ("Funnel stage mapping", "funnel_stage_mapping"),
    ("One person once", "one_person_once"),
)

_DOCS_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)


def _docs_blocks(project_dir: Path) -> dict[str, str]:
    """Every ``{% docs name %}`` block of the project, rendered and stripped as dbt stores it."""
    blocks: dict[str, str] = {}
    for md in sorted((project_dir / "models").rglob("*.md")):
        for name, body in _DOCS_BLOCK.findall(md.read_text()):
            if name in blocks:
                raise ValueError(f"docs block {name!r} defined twice (dbt refuses that too)")
            blocks[name] = jinja2.Environment().from_string(body).render().strip()
    return blocks


def doc(name: str, project_dir: Path = PROJECT_DIR) -> str:
    """The text of a docs block, as ``{{ doc(name) }}`` renders it."""
    blocks = _docs_blocks(project_dir)
    if name not in blocks:
        raise KeyError(f"no docs block {name!r} under {project_dir / 'models'}")
    return blocks[name]


def render_description(text: str | None, project_dir: Path = PROJECT_DIR, *, link_shared: bool = False) -> str:
    """A yml description as dbt renders it into the manifest and the comment: jinja with
    ``doc()`` resolved. Stripped (a folded yml scalar ends in a newline). ``link_shared``: the
    glossary's own shared sections become links to them instead of their full text."""
    if not text:
        return ""
    shared = {block: title for title, block in SHARED_SECTIONS}

    def _doc(name: str) -> str:
        if link_shared and name in shared:
            return f"see [{shared[name]}](#{shared[name].lower().replace(' ', '-')})."
        return doc(name, project_dir)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(text).render(doc=_doc).strip()


def _models(project_dir: Path, folder: str) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for yml in sorted((project_dir / "models" / folder).glob("*.yml")):
        out += [(yml, m) for m in (yaml.safe_load(yml.read_text()) or {}).get("models", [])]
    return out


def meta(node: dict[str, Any]) -> dict[str, Any]:
    """``config.meta`` of a model or column (dbt 1.10+ puts meta under config)."""
    return (node.get("config") or {}).get("meta") or {}


def mart_models(project_dir: Path = PROJECT_DIR) -> dict[str, dict[str, Any]]:
    """Every mart model's yml entry by name."""
    return {m["name"]: m for _, m in _models(project_dir, "marts")}


def render_data_dictionary(project_dir: Path = PROJECT_DIR) -> str:
    out = [
        "# Data dictionary",
        "",
        "Generated from `src/revops/dbt/models/**/*.yml` (the text dbt writes into the PostgreSQL comments);",
        f"do not edit by hand. Regenerate: `{REGENERATE}`.",
        "Timestamps (`*_at`) are UTC. Money without a suffix is in the reporting currency",
        "(`REVOPS_REPORTING_CURRENCY`); `*_native` money is in the row's `currency`.",
        "KPI formulas and edge cases: [metrics.md](metrics.md).",
        "",
    ]
    for folder, schema in LAYERS:
        for _, model in _models(project_dir, folder):
            out += [f"## `{schema}.{model['name']}`", "", render_description(model.get("description"), project_dir), ""]
            cols = model.get("columns", [])
            if cols:
                out += ["| column | description |", "|---|---|"]
                out += [f"| `{c['name']}` | {_cell(render_description(c.get('description'), project_dir))} |" for c in cols]
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def _text(value: Any) -> str:
    """One line of markdown from a yml value (folded scalars, stray newlines)."""
    return " ".join(str(value or "").split())


def _cell(value: Any) -> str:
    return _text(value).replace("|", "\\|")


def kpi_rows(model: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(KPI, formula, edge cases) of a mart, in column order. Consecutive columns sharing an
    explicit ``kpi`` name, formula and edge cases are one row (e.g. the ``*_change`` columns)."""
    groups: list[tuple[tuple[str, str, str], list[str]]] = []
    for col in model.get("columns", []):
        m = meta(col)
        if "formula" not in m:
            continue
        key = (_text(m.get("kpi")), _text(m["formula"]), _text(m.get("edge_cases")))
        if key[0] and groups and groups[-1][0] == key:
            groups[-1][1].append(col["name"])
        else:
            groups.append((key, [col["name"]]))
    rows = []
    for (kpi, formula, edge), cols in groups:
        names = ", ".join(f"`{c}`" for c in cols)
        rows.append((f"{kpi} ({names})" if kpi else names, formula, edge))
    return rows


def render_metrics_glossary(project_dir: Path = PROJECT_DIR) -> str:
    out = [
        "# Metrics glossary",
        "",
        "Generated from the mart models' yml (`src/revops/dbt/models/marts/*.yml`: descriptions, and",
        "`config.meta` grain, formula and edge cases) and the docs blocks in",
        "`src/revops/dbt/models/marts/_glossary.md`, the same source dbt writes into the PostgreSQL",
        f"comments; do not edit by hand. Regenerate: `{REGENERATE}`.",
        "",
        f"{doc('kpi_conventions', project_dir)} **{doc('zero_denominator', project_dir)}**",
        "",
    ]
    for title, block in SHARED_SECTIONS:
        out += [f"## {title}", "", doc(block, project_dir), ""]
    for _, model in _models(project_dir, "marts"):
        m = meta(model)
        out += [f"## `marts.{model['name']}`", "", f"**Grain:** {_text(m.get('grain'))}", ""]
        out += [_text(render_description(model.get("description"), project_dir, link_shared=True)), ""]
        rows = kpi_rows(model)
        if rows:
            out += ["| KPI | formula | edge cases |", "|---|---|---|"]
            out += [f"| {kpi} | {_cell(formula)} | {_cell(edge)} |" for kpi, formula, edge in rows]
            out.append("")
        if m.get("edge_cases"):
            out += ["### Edge cases", ""]
            out += [f"- {_text(e)}" for e in m["edge_cases"]]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


GENERATED = {"data_dictionary.md": render_data_dictionary, "metrics.md": render_metrics_glossary}


def write_all(docs_dir: Path = DOCS_DIR, project_dir: Path = PROJECT_DIR) -> list[Path]:
    paths = []
    for name, render in GENERATED.items():
        path = docs_dir / name
        path.write_text(render(project_dir))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m revops.report.docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("doc", nargs="?", choices=("data-dictionary", "metrics"), default="data-dictionary",
                        help="print this document (default: data-dictionary)")
    parser.add_argument("--write", nargs="?", const=DOCS_DIR, type=Path, metavar="DOCS_DIR",
                        help=f"write data_dictionary.md and metrics.md into DOCS_DIR (default {DOCS_DIR})")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_all(args.write):
            print(f"wrote {path}", file=sys.stderr)
        return
    render = render_metrics_glossary if args.doc == "metrics" else render_data_dictionary
    print(render(), end="")


if __name__ == "__main__":
    main()
