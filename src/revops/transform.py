"""Run the dbt project (``src/revops/dbt``) against the warehouse named by the settings.

The profile is generated from ``REVOPS_WAREHOUSE_URL`` so one setting drives loading and
models; one ``dbt build`` per run, in this process with a parsed project kept between builds
(see :func:`build`); other dbt commands (``revops dbt ...``) run in a child process. For DuckDB
the caller must have closed its own connections first: one writer at a time.

The profile is persistent (``<data dir>/dbt/profile/profiles.yml``, so ``revops dbt ...`` and a
plain ``dbt --profiles-dir`` can use it) and holds no secret: the password is
``{{ env_var('DBT_ENV_SECRET_REVOPS_PASSWORD') }}``, set in the environment for the length of a
build only (a ``revops dbt ...`` child's environment only); dbt scrubs ``DBT_ENV_SECRET_*``
values from its logs. Nothing is written
to a temporary folder, so a killed build leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from revops.settings import Settings, duckdb_config, postgres_connect_args, postgres_options

PROJECT_DIR = Path(__file__).resolve().parent / "dbt"
#: the variable the profile reads the warehouse password from (set only in dbt's environment)
PASSWORD_ENV = "DBT_ENV_SECRET_REVOPS_PASSWORD"


class ModelBuildError(RuntimeError):
    """dbt build failed: the message lists the failing nodes."""


@dataclass
class BuildResult:
    success: bool
    nodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes if n["status"] in ("error", "fail", "runtime error")]


def default_threads(duckdb: bool = False) -> int:
    """dbt's threads: one per core (``REVOPS_DBT_THREADS`` overrides). Models that do not depend
    on each other build at once; the 2-core machine builds the staging layer two at a time.

    ``duckdb`` under a memory limit (settings.duckdb_config): one. The limit is the database's,
    shared by every query running in it, and DuckDB runs each query on every core anyway: two
    large models side by side each claimed memory unaware of the other and one failed "Out of
    Memory" at 512MB on issue 15's large world, where one at a time builds under 256MB. One at a
    time measured as fast there (61.5 s against 62.6 s at 512MB, bench/README.md)."""
    if os.environ.get("REVOPS_DBT_THREADS"):
        return max(1, int(os.environ["REVOPS_DBT_THREADS"]))
    if duckdb and duckdb_config():
        return 1
    return max(1, os.cpu_count() or 1)


def profile_for(url: str, threads: int | None = None) -> dict[str, Any]:
    """A dbt profile target for a SQLAlchemy URL (DuckDB file or PostgreSQL). It holds no
    secret: the password is read from the environment (:func:`dbt_env`)."""
    u = make_url(url)
    duckdb = u.drivername.startswith("duckdb")
    threads = threads or default_threads(duckdb=duckdb)
    if duckdb:
        path = u.database or ":memory:"
        out = {"type": "duckdb", "path": str(Path(path).resolve()) if path != ":memory:" else path,
               "threads": threads, "schema": "main"}
        if duckdb_config():  # the same DuckDB settings as our own connection (revops.settings)
            out["settings"] = duckdb_config()
        return out
    if u.drivername.startswith("postgresql"):
        # a unix-socket directory comes as ``?host=/path`` (libpq takes a directory as host)
        return {
            "type": "postgres",
            "host": u.host or u.query.get("host") or "127.0.0.1",
            "port": int(u.port or u.query.get("port") or 5432),
            "user": u.username or "postgres",
            "password": "{{ env_var('" + PASSWORD_ENV + "', '') }}",
            "dbname": u.database,
            "schema": "public",
            "threads": threads,
        }
    raise ValueError(f"no dbt profile for {u.drivername}")


def dbt_vars(settings: Settings) -> dict[str, Any]:
    return {
        "reporting_currency": settings.reporting_currency,
        "reporting_timezone": settings.reporting_timezone,
        "lead_response_sla_hours": settings.lead_response_sla_hours,
        "meta_lead_action_type": settings.meta_lead_action_type,
        "hubspot_utm_campaign_property": settings.hubspot_utm_campaign_property,
        "hubspot_rejection_reason_property": settings.hubspot_rejection_reason_property,
        "hubspot_rejected_at_property": settings.hubspot_rejected_at_property,
        "salesforce_utm_campaign_field": settings.salesforce_utm_campaign_field,
        "salesforce_rejection_reason_field": settings.salesforce_rejection_reason_field,
        "marketing_teams": settings.marketing_teams,
        "salesforce_campaign_utm_field": settings.salesforce_campaign_utm_field,
        "url_tag_platforms": settings.url_tag_platforms,
    }


def work_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve() / "dbt"


def write_profile(settings: Settings) -> Path:
    """``<data dir>/dbt/profile/profiles.yml`` for the warehouse URL (no secret in it: see
    :func:`dbt_env`); replaced atomically, so a concurrent reader never sees half a file."""
    profiles_dir = work_dir(settings) / "profile"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    profile = {"revops": {"target": "warehouse", "outputs": {"warehouse": profile_for(settings.warehouse_url)}}}
    tmp = profiles_dir / f".profiles.yml.{os.getpid()}"
    tmp.write_text(yaml.safe_dump(profile))
    os.replace(tmp, profiles_dir / "profiles.yml")
    return profiles_dir


def dbt_env(settings: Settings) -> dict[str, str]:
    """The dbt child's environment: ours, the project/profile/target paths dbt reads from
    ``DBT_*`` variables (so any dbt command finds them), and the password for the profile."""
    work = work_dir(settings)
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1",
           "DBT_PROJECT_DIR": str(PROJECT_DIR), "DBT_PROFILES_DIR": str(write_profile(settings)),
           "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs")}
    _set_variables(env, _build_variables(settings))
    return env


#: dbt commands that render the project (and so need the run's ``--vars``)
_RENDERING = {"build", "run", "test", "seed", "compile", "ls", "list", "show", "snapshot", "parse",
              "run-operation", "retry", "clone", "docs generate", "source freshness"}


#: dbt commands that never open the warehouse (no writer lock needed: ``docs serve`` runs for hours)
OFFLINE = {"docs serve", "clean", "deps", "init"}


def dbt_command(args: list[str]) -> str:
    """The (sub)command of a dbt argument list: ``docs generate``, ``build``..."""
    return " ".join(args[:2] if args and args[0] in ("docs", "source") else args[:1])


def dbt_args(settings: Settings, args: list[str]) -> list[str]:
    """``args`` with the settings' ``--vars`` after the (sub)command when it renders models and
    the caller gave none."""
    command = dbt_command(args)
    if command not in _RENDERING or "--vars" in args:
        return list(args)
    words = len(command.split())
    return [*args[:words], "--vars", json.dumps(dbt_vars(settings)), *args[words:]]


log = logging.getLogger(__name__)

#: dbt's line for a finished node: "12:00:01  7 of 193 OK created sql table model core.dim_contact"
_NODE_DONE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP)\b(.*)")


def run_dbt(settings: Settings, args: list[str], *, capture: bool = True,
            on_line: Callable[[str], None] | None = None) -> subprocess.CompletedProcess:
    """Any dbt command on our project and warehouse, in a child process (``revops dbt ...``).
    ``on_line``: called with each line dbt prints, as it prints it (its output is then kept,
    the last 200 lines, in the result's ``stdout``)."""
    cmd = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *dbt_args(settings, args)]
    if on_line is None:
        return subprocess.run(cmd, capture_output=capture, text=True, env=dbt_env(settings))
    tail: deque[str] = deque(maxlen=200)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dbt_env(settings)) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            on_line(line)
    return subprocess.CompletedProcess(cmd, proc.returncode, "\n".join(tail), "")


def log_progress(line: str) -> None:
    """dbt's finished nodes as progress lines ("dbt 7/193 OK created ... core.dim_contact")."""
    m = _NODE_DONE.search(re.sub(r"\x1b\[[0-9;]*m", "", line))  # dbt colours a terminal's lines
    if m:
        log.info("dbt %s/%s %s%s", m[1], m[2], m[3], re.sub(r"\s+(\.{2,}|\[).*$", "", m[4]))


def build(settings: Settings, *, select: str | list[str] | None = None,
          full_refresh: bool = False) -> BuildResult:
    """``dbt build`` (seeds, models, tests); raises ModelBuildError listing failing nodes.
    ``full_refresh``: the incremental models (``core.fct_ad_daily``) are rebuilt whole from raw
    instead of replacing only what changed (dbt's ``--full-refresh``); the result is the same
    rows, proven in tests/core/test_incremental.py.

    dbt runs in this process (``dbtRunner``), on a project parsed once per process and warehouse
    (:func:`_parsed`): a child process cost ~3.5 s of imports plus a parse of ~190 nodes on every
    build. dbt-duckdb keeps its DuckDB database open for the life of its adapter, with its own
    configuration, which would lock our own connections out of the file afterwards ("different
    configuration"): :func:`_release_duckdb` closes it after every build. One build at a time per
    process (dbt's adapter registry and flags are process-wide).
    """
    # progress comes from dbt's events (:func:`_log_event`); dbt's unit tests are not part of a
    # night (:func:`unit_tests`)
    args = ["build", "--quiet", "--exclude-resource-type", "unit_test"]
    if select:
        # a partial build runs the tests whose every input it built: a test that also reads
        # models outside the selection (the CRM stage-mapping test reads both CRMs) would
        # otherwise query tables this build never made
        args += ["--select", *([select] if isinstance(select, str) else select),
                 "--indirect-selection", "cautious"]
    if full_refresh:
        args.append("--full-refresh")
    return _invoke(settings, args)


def unit_tests(settings: Settings) -> BuildResult:
    """dbt's unit tests: each model's logic on the fixed inputs written in its yml (cases the
    synthetic world does not produce), against the warehouse's built models (dbt reads their
    column types). ``make test`` runs them on both engines; a nightly :func:`build` leaves them
    out, as dbt Labs recommends for production ("Since the inputs of the unit tests are static,
    there's no need to use additional compute cycles running them in production", dbt's unit
    test docs): they were 3.1 s of a 25 s build on the test world. An operator runs them with
    ``revops dbt test --select test_type:unit``."""
    return _invoke(settings, ["test", "--quiet", "--select", "test_type:unit"])


def _invoke(settings: Settings, args: list[str]) -> BuildResult:
    """Run a dbt command in this process; raises ModelBuildError naming the failing nodes."""
    target = work_dir(settings) / "target"
    with _DBT_LOCK, _build_env(settings):
        (target / "run_results.json").unlink(missing_ok=True)
        try:
            res = _runner(settings).invoke(_in_process_args(settings, args))
        finally:
            _release_duckdb()
    result = BuildResult(success=res.success, nodes=_node_results(target))
    if not result.success:
        detail = "; ".join(
            f"{n['name']}: {n['status']} ({n['message']}){_failing_rows(settings, n)}"
            for n in result.failures
        )
        raise ModelBuildError(f"dbt {args[0]} failed: {detail or res.exception}")
    return result


#: one dbt invocation at a time in this process
_DBT_LOCK = threading.RLock()
#: parsed projects, by what the parse depends on (:func:`_manifest_key`), the last four used
#: (~6.5 MB each): a process that builds DuckDB and PostgreSQL warehouses in turn (a test
#: worker) parses each once, not at every switch (~2-3 s a parse in a new data dir); a
#: deployment builds one warehouse and keeps one
_MANIFESTS: OrderedDict[str, Any] = OrderedDict()
_KEEP_MANIFESTS = 4


def prepare(settings: Settings, after: threading.Thread | None = None) -> threading.Thread:
    """Import dbt and parse the project in the background (a thread), so a build that follows
    finds both done: ~3.5 s of imports and ~3 s of (partial) parse that would otherwise come
    after the extraction, overlapped with it instead. Parsing reads no warehouse. A failure is
    left for :func:`build` to report (it parses again). ``after``: another background start to
    wait for first (GX's import, which the extraction's first changed row needs)."""

    def _parse() -> None:
        if after is not None:
            after.join()
        try:
            with _DBT_LOCK:
                _runner(settings)
        except Exception:  # noqa: BLE001 - build() parses again and reports it
            log.debug("dbt parse ahead of the build failed", exc_info=True)

    thread = threading.Thread(target=_parse, name="dbt-parse", daemon=True)
    thread.start()
    return thread


def _in_process_args(settings: Settings, args: list[str]) -> list[str]:
    """``args`` with the settings' ``--vars`` and our project, profile, target and log paths
    (what :func:`dbt_env` hands a child process as ``DBT_*`` variables)."""
    work = work_dir(settings)
    command = dbt_command(args)
    words = len(command.split())
    return [*dbt_args(settings, args)[:words], "--project-dir", str(PROJECT_DIR),
            "--profiles-dir", str(write_profile(settings)), "--target-path", str(work / "target"),
            "--log-path", str(work / "logs"), *dbt_args(settings, args)[words:]]


def _manifest_key(settings: Settings) -> str:
    """What a parsed project depends on besides its files: the vars, and the target's adapter,
    database and schema (the nodes carry them). Two DuckDB files of the same name share a parse."""
    profile = profile_for(settings.warehouse_url)
    if profile["type"] == "duckdb":
        profile["path"] = Path(profile["path"]).stem
    profile.pop("threads", None)
    profile.pop("settings", None)  # DuckDB's memory limit: not in the nodes
    return json.dumps([profile, dbt_vars(settings)], sort_keys=True, default=str)


def _install_flag_source_from_frames() -> None:
    """dbt names the package behind each adapter "behavior flag" that does not name its own
    (``BehaviorFlagRendered._default_source``, dbt-common), for each flag, at every adapter
    dbt creates (a few per invocation), by ``inspect.stack()``: that reads the source lines of
    every frame of the calling thread and looks each frame's module up, a walk over
    ``sys.modules`` for frames of no file. In a test worker that came to ~21 ms a flag:
    ``tests/marts`` under xdist spent 8.9 of its 372 worker-seconds there (436 calls, timed
    around dbt's own function; dbt-fal saw the same call slow ``dbt seed``,
    fal-ai/dbt-fal#723). The answer is the first
    calling module other than dbt-common's own, which the frames' globals name without reading
    a file. ``tests/test_dbt_profile.py`` checks the answer is dbt's own."""
    from dbt_common.behavior_flags import BehaviorFlagRendered

    if getattr(BehaviorFlagRendered._default_source, "from_frames", False):
        return
    own = BehaviorFlagRendered.__module__

    def _default_source() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if name and name != own:
                return name
            frame = frame.f_back
        return "Unknown"

    _default_source.from_frames = True
    _default_source.__wrapped__ = BehaviorFlagRendered._default_source
    BehaviorFlagRendered._default_source = staticmethod(_default_source)


def _parsed(settings: Settings):
    """The project parsed for these settings (parsed now if it was not yet: dbt's partial parse,
    kept in the data dir's target, makes that ~1 s when nothing changed). Do not modify it."""
    from dbt.cli.main import dbtRunner

    _install_flag_source_from_frames()
    key = _manifest_key(settings)
    if key not in _MANIFESTS:
        parsed = dbtRunner().invoke(_in_process_args(settings, ["parse", "--quiet"]))
        if not parsed.success:
            raise ModelBuildError(f"dbt parse failed: {parsed.exception}")
        while len(_MANIFESTS) >= _KEEP_MANIFESTS:  # a manifest holds every node of the project
            _MANIFESTS.popitem(last=False)
        _MANIFESTS[key] = parsed.result
    _MANIFESTS.move_to_end(key)
    return _MANIFESTS[key]


def _runner(settings: Settings):
    """A ``dbtRunner`` on the project parsed for these settings (:func:`_parsed`)."""
    from dbt.cli.main import dbtRunner

    # a copy per build: compiling marks nodes in the manifest (ephemeral CTEs "already injected"),
    # so a second build on the same object would reference a CTE it never defines
    return dbtRunner(manifest=_parsed(settings).deepcopy(), callbacks=[_log_event])


def downstream_of(settings: Settings, relations: Collection[tuple[str, str]]) -> list[str]:
    """dbt selectors for every node that reads one of ``relations`` (``(schema, table)``, e.g.
    ``("raw", "hubspot__contacts")``), directly or through other models: ``source:<s>.<t>+`` for
    each dbt source declared on one. A relation no source declares has no model to rebuild."""
    wanted = set(relations)
    with _DBT_LOCK:
        sources = _parsed(settings).sources.values()
        return sorted(f"source:{s.source_name}.{s.name}+" for s in sources
                      if (s.schema, s.identifier or s.name) in wanted)


def project_fingerprint(settings: Settings) -> str:
    """What the marts are built and published from besides the warehouse's data: every file of
    the dbt project (models, macros, seeds, tests), the vars from the settings, the marts' suites
    (the publish gate) and dbt's version. Equal fingerprints: a build over unchanged inputs
    gives the marts already built (``revops.pipeline.run`` may then skip it)."""
    import hashlib
    from importlib.metadata import version

    from revops.quality.gx_runner import SUITES_DIR

    digest = hashlib.sha256()
    # dbt's output folders inside the project are skipped, not folders of that name above it
    files = [(p.relative_to(PROJECT_DIR), p) for p in PROJECT_DIR.rglob("*") if p.is_file()]
    files = [(rel.as_posix(), p) for rel, p in files
             if not {"target", "logs", "dbt_packages", "__pycache__"} & set(rel.parts)]
    files += [(f"expectations/{p.name}", p) for p in SUITES_DIR.glob("marts__*.json")]
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(dbt_vars(settings), sort_keys=True, default=str).encode())
    digest.update(version("dbt-core").encode())
    return digest.hexdigest()


def _log_event(event: Any) -> None:
    """dbt's finished nodes as progress lines (dbt's own console output is off: ``--quiet``)."""
    if event.info.name in ("LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult",
                           "LogNodeResult"):
        log_progress(event.info.msg)


def _build_variables(settings: Settings) -> dict[str, str | None]:
    """The environment a build reads besides ours (None: unset): the warehouse password where
    the profile reads it; on PostgreSQL, ``PGOPTIONS`` with the project's session settings
    (:data:`revops.settings.POSTGRES_SESSION`: dbt-postgres passes libpq no options of its own,
    so libpq takes them from there)."""
    url = make_url(settings.warehouse_url)
    out: dict[str, str | None] = {PASSWORD_ENV: url.password or None}
    if url.drivername.startswith("postgresql"):
        out["PGOPTIONS"] = postgres_options(os.environ.get("PGOPTIONS"))
    return out


def _set_variables(env: MutableMapping[str, str], values: dict[str, str | None]) -> None:
    """Each of ``values`` into ``env``; None unsets it."""
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value


@contextmanager
def _build_env(settings: Settings):
    """:func:`_build_variables` in this process's environment, for the build only."""
    wanted = _build_variables(settings)
    before = {name: os.environ.get(name) for name in wanted}
    try:
        _set_variables(os.environ, wanted)
        yield
    finally:
        _set_variables(os.environ, before)


def _release_duckdb() -> None:
    """Close dbt-duckdb's process-wide DuckDB connection, so the file is free for the next
    writer (our loader, or a reader with another configuration)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    from dbt.adapters.factory import reset_adapters

    env = DuckDBConnectionManager._ENV
    reset_adapters()  # drops the adapters' thread connections (and their cursors)
    if env is not None and hasattr(env, "close"):
        env.close()
    DuckDBConnectionManager.close_all_connections()


def _node_results(target: Path) -> list[dict[str, Any]]:
    path = target / "run_results.json"
    if not path.exists():
        return []
    return [
        {
            "name": r["unique_id"].split(".")[-1] if r["unique_id"].startswith("model.") else r["unique_id"],
            "unique_id": r["unique_id"],
            "status": r["status"],
            "message": r.get("message"),
            "seconds": r.get("execution_time"),
            "compiled_code": r.get("compiled_code"),
        }
        for r in json.loads(path.read_text())["results"]
    ]


def _failing_rows(settings: Settings, node: dict[str, Any], limit: int = 5) -> str:
    """For a failed data test, the first rows it returned, so the error says *what* is wrong
    (e.g. "no ECB rate for ARS from 2026-06-01 to 2026-06-30"), not only which test failed."""
    sql = node.get("compiled_code")
    if node["status"] != "fail" or not sql:
        return ""
    from sqlalchemy import create_engine

    engine = create_engine(settings.warehouse_url, connect_args=postgres_connect_args(settings.warehouse_url))
    try:
        with engine.connect() as conn:
            query = f"select * from ({sql}) as failing limit {limit}"
            rows = conn.exec_driver_sql(query).mappings().all()
    except Exception:  # noqa: BLE001 - the build error stands without the sample
        return ""
    finally:
        engine.dispose()
    return "".join(f"\n    {dict(r)}" for r in rows)
