"""Benchmarks (``make bench``); see bench/README.md. What every bench shares: where its results go."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def stamp_now() -> str:
    """A run's UTC timestamp, as the result files are named."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_result(kind: str, stamp: str, result: dict[str, Any], line: str) -> None:
    """``bench/results/<kind>_<stamp>.json`` (the whole result) and ``line`` appended to
    ``bench/results/<kind>.md`` (one line per run)."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{kind}_{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    with (RESULTS / f"{kind}.md").open("a") as fh:
        fh.write(line + "\n")
