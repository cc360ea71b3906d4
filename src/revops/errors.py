"""What the CLI prints when a command fails: one line that names what to fix (the variable,
the source, the file and line), and the full traceback in a log file under the data dir.
Secret values (tokens, passwords, the salt) are scrubbed from both."""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

#: a variable whose value is a secret
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|SALT|DSN", re.IGNORECASE)
#: the password in a URL (``scheme://user:password@host``)
_URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
ENV_FILE = ".env"


def _revops_env() -> dict[str, str]:
    """REVOPS_* variables of the environment and of ./.env (the environment wins)."""
    values: dict[str, str] = {}
    if Path(ENV_FILE).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(ENV_FILE).items() if v})
    values.update(os.environ)
    return {k.upper(): v for k, v in values.items() if k.upper().startswith("REVOPS_")}


def secret_values() -> list[str]:
    """Every secret value this process may know, longest first."""
    found: set[str] = set()
    for name, value in _revops_env().items():
        if _SECRET_NAME.search(name) and len(value) >= 4:
            found.add(value)
        found.update(m.group(1) for m in _URL_PASSWORD.finditer(value))
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, "***")
    return text


def data_dir() -> Path:
    """The data dir even when the settings are what is wrong: REVOPS_DATA_DIR or ``data``."""
    return Path(_revops_env().get("REVOPS_DATA_DIR") or "data")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def what_to_fix(exc: BaseException) -> str:
    """One line: the setting to fix, the source and its variable, or where the error came from."""
    from revops.settings import SettingsError
    from revops.sources.errors import FatalAPIError

    for link in _chain(exc):
        if isinstance(link, SettingsError):
            return f"settings: {link}"
        if isinstance(link, FatalAPIError):
            return _fatal_api(link)
    from revops.pipeline import NoSourceConfigured, QualityGateFailed

    if isinstance(exc, NoSourceConfigured):
        return str(exc)
    if isinstance(exc, QualityGateFailed):
        n = len(exc.failures)
        return f"quality gate failed, marts not published ({n} failure{'s' * (n != 1)}): {exc.failures[0]}"
    where = _where(exc)
    return f"{type(exc).__name__}: {first_line(exc)}" + (f" (at {where})" if where else "")


def _fatal_api(exc: BaseException) -> str:
    """``<source>: <what the API said>``, ending with the variable to fix."""
    from revops.sources.registry import SOURCE_NAMES, get_spec

    line = first_line(exc)
    source = line.split(":", 1)[0].strip()
    if source not in SOURCE_NAMES:
        return f"source API error: {line}"
    spec = get_spec(source)
    variable = spec.secret_env
    if variable and variable not in line:
        line += f" (check {variable} and the {source} settings)"
    return line


def _where(exc: BaseException) -> str | None:
    """The innermost frame of our own code (file:line), else the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/revops/" in f.filename or "/flows/" in f.filename]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return None
    try:
        name = os.path.relpath(frame.filename)
    except ValueError:
        name = frame.filename
    return f"{name}:{frame.lineno}"


def write_log(exc: BaseException, argv: list[str] | None = None) -> Path:
    """The full traceback (secrets scrubbed) in ``<data dir>/logs/revops-<time>-<pid>.log``."""
    secrets = secret_values()
    stamp = datetime.now(UTC)
    path = data_dir() / "logs" / f"revops-{stamp:%Y%m%dT%H%M%S}-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(traceback.format_exception(exc))
    header = f"{stamp.isoformat()} revops {' '.join(argv if argv is not None else sys.argv[1:])}\n"
    path.write_text(scrub(header + what_to_fix(exc) + "\n\n" + body, secrets))
    return path


def report(exc: BaseException, debug: bool = False) -> int:
    """Print the failure (one line, or the traceback with ``debug``); the exit code."""
    secrets = secret_values()
    if debug:
        sys.stderr.write(scrub("".join(traceback.format_exception(exc)), secrets))
        return 1
    line = what_to_fix(exc)
    try:
        where = f"full traceback in {write_log(exc)}"
    except OSError as log_error:
        where = f"no log written ({log_error.strerror}); rerun with --debug for the traceback"
    sys.stderr.write(scrub(f"error: {line} [{where}]", secrets) + "\n")
    return 1


class _OneLineFormatter(logging.Formatter):
    """Formats a copy of the record without its traceback, first line only (the traceback goes
    to the log file when the command fails, and to the Prefect API as it was)."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        short = copy.copy(record)
        short.msg, short.args = first_line_of(record.getMessage()), None
        short.exc_info = short.exc_text = short.stack_info = None
        return self.inner.format(short)


def first_line_of(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def console_logs_without_tracebacks(prefix: str = "prefect") -> None:
    """The console handlers Prefect installed (on the root logger and its own) print one line a
    record (``--debug`` leaves them as they are)."""
    names = [prefix, *(n for n in logging.root.manager.loggerDict if n.startswith(prefix + "."))]
    for logger in [logging.root, *map(logging.getLogger, names)]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) \
                    and not isinstance(handler.formatter, _OneLineFormatter):
                handler.setFormatter(_OneLineFormatter(handler.formatter))
