"""Run the installed ``revops`` command in a real child process, with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REVOPS = str(Path(sys.executable).parent / "revops")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without REVOPS_*/PREFECT_API_URL, Prefect's home and the data
    dir in ``tmp_path``, a wide terminal (rich tables unwrapped)."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith("REVOPS_") and k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), REVOPS_DATA_DIR=str(tmp_path / "data"),
               COLUMNS="300")
    env.update(extra)
    return env


def revops(*args: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([REVOPS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line of stderr (asserting there is exactly one)."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def log_of(line: str) -> Path:
    """The log file an error line points at."""
    return Path(line.rsplit("[full traceback in ", 1)[1].rstrip("]"))


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
