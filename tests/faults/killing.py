"""Run the pipeline in a child process and ``kill -9`` its process group at a chosen point
(tests/faults/test_degraded_source.py): the child is a real run, dbt included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = "from revops import pipeline; from revops.settings import Settings; pipeline.run(Settings(), 'kill-test')"


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid`` (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            try:
                cmd = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = ""
            out.append((child, cmd))
            todo.append(child)
    return out


def dbt_running(proc: subprocess.Popen) -> bool:
    return any("dbt" in cmd and "build" in cmd for _, cmd in descendants(proc.pid))


def start(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """``pipeline.run`` in a child process of its own session (so its group can be killed)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", RUN], env=full, cwd=cwd, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(cond: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, f"the run ended (code {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def kill_9(proc: subprocess.Popen) -> None:
    """SIGKILL to the run's whole process group (dbt's child included)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
