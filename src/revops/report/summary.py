"""Text renderings of a run: the Prefect markdown artifact and the CLI summary."""

from __future__ import annotations

from typing import Any


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def markdown_summary(
    run_id: str, extracted: list[dict[str, Any]], published: list[str], summary: dict[str, Any]
) -> str:
    lines = [f"# Nightly sync `{run_id}`", "", "| source | stream | extracted | loaded | quarantined | s |",
             "|---|---|---:|---:|---:|---:|"]
    for src in extracted:
        for s in src["streams"]:
            lines.append(
                f"| {s['source']} | {s['stream']} | {s['rows_extracted']} | {s['rows_loaded']} "
                f"| {s['rows_quarantined']} | {s['seconds']:.1f} |"
            )
    lines += [
        "",
        f"Published: {', '.join(f'`marts.{m}`' for m in published)}",
        "",
        "| KPI | value |",
        "|---|---:|",
        f"| spend | {_money(summary['spend'])} |",
        f"| leads | {summary['leads']} |",
        f"| MQLs | {summary['mqls']} |",
        f"| SQLs | {summary['sqls']} |",
        f"| CPL | {_money(summary['cpl'])} |",
    ]
    return "\n".join(lines)
