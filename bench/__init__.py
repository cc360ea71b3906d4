"""Benchmarks (``make bench``); see bench/README.md. What every bench shares: where its results go,
and how fast the machine was while it ran (the same code's figures moved 10-30 % between hours of
one day on this 2-core VM, so a result carries its own yardstick)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def stamp_now() -> str:
    """A run's UTC timestamp, as the result files are named."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def calibration_s(loops: int = 3) -> float:
    """Seconds of a fixed single-threaded Python workload (the median of ``loops``): the same
    number on the same machine in a quiet hour, larger when the host gives the VM less CPU.
    Two results compare fairly after dividing each by its calibration."""
    times = []
    for _ in range(loops):
        started = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i ^ (i >> 3)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def _cpu_ticks() -> dict[str, int] | None:
    """The machine's CPU time since boot by state (/proc/stat), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    except OSError:
        return None
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return dict(zip(names, map(int, fields), strict=False))


#: the machine as a bench's run started (:func:`machine_start`)
_START: dict[str, Any] = {}


def machine_start() -> None:
    """Note the machine's state as a bench's run starts (its sandbox children do not)."""
    _START.update(ticks=_cpu_ticks(), calibration_s=calibration_s())


def machine() -> dict[str, Any]:
    """How fast the machine was during this run: the calibration workload at its start and its
    end, and the shares of the machine's CPU time that were idle and stolen by the host
    (``steal``: the hypervisor ran someone else) between the two."""
    out: dict[str, Any] = {"calibration_s_start": _START.get("calibration_s"), "calibration_s_end": calibration_s()}
    now = _cpu_ticks()
    if now and _START.get("ticks"):
        delta = {k: now[k] - _START["ticks"][k] for k in now}
        total = sum(delta.values()) or 1
        out.update(idle_share=round((delta["idle"] + delta["iowait"]) / total, 3),
                   steal_share=round(delta["steal"] / total, 3))
    return out


def write_result(kind: str, stamp: str, result: dict[str, Any], line: str) -> None:
    """``bench/results/<kind>_<stamp>.json`` (the whole result, with :func:`machine`) and ``line``
    appended to ``bench/results/<kind>.md`` (one line per run, ending with the calibration)."""
    m = machine()
    result = {**result, "machine": m}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{kind}_{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    with (RESULTS / f"{kind}.md").open("a") as fh:
        fh.write(f"{line} (calibration {m['calibration_s_start']}/{m['calibration_s_end']} s"
                 + (f", steal {m['steal_share']:.0%}" if "steal_share" in m else "") + ")\n")
