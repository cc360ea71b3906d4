"""Run the pipeline in a child process and ``kill -9`` its process group at a chosen point
(tests/faults/test_degraded_source.py): the child is a real run, dbt included (in its process)."""

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


class DbtLog:
    """dbt's log of a run (``<data dir>/dbt/logs/dbt.log``; dbt runs inside the run's process,
    so the log, not a child process, says how far it got), read from where it ended when the run
    started (the killed runs share a data dir). Each look reads only what was written since the
    last one (polled every 50 ms, re-reading the whole log cost a core's share while dbt built)."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "dbt" / "logs" / "dbt.log"
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self.started = 0
        self.finished = False

    def _read(self) -> None:
        """Count the complete lines written since the last read."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        lines, self.offset = chunk[:end], self.offset + end
        self.started += lines.count(b"Began running node")
        self.finished = self.finished or b"Command `cli build`" in lines

    def nodes_started(self) -> int:
        self._read()
        return self.started

    def build_finished(self) -> bool:
        self._read()
        return self.finished


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
