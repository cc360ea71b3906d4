"""Run Great Expectations (GX 1.x) suites that are stored as data.

Suites
------
One JSON file per suite, ``<SUITES_DIR>/<suite name>.json``; ``SUITES_DIR`` is the repository's
``expectations/`` folder unless a ``suites_dir`` argument says otherwise. The file is GX 1.x's own
suite serialization (what ``gx.ExpectationSuite(**data)`` accepts)::

    {
      "name": "raw__meta__ads_insights",                  # must equal the file name
      "meta": {"description": "what the suite guards"},
      "expectations": [
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "ad_id"},
         "meta": {"reason": "part of the merge key"}},
        {"type": "expect_column_sum_to_be_between",
         "kwargs": {"column": "spend",
                    "min_value": {"$PARAMETER": "core_spend_total_min"},
                    "max_value": {"$PARAMETER": "core_spend_total_max"}}}
      ]
    }

``type`` is any GX 1.x expectation (``expect_...``), ``kwargs`` its arguments, ``meta`` free-form.
A kwarg may be a suite parameter, ``{"$PARAMETER": "<name>"}``, whose value is passed at run time
(``parameters={"<name>": value}``); a missing value is an error. :func:`load_suite` raises on any
expectation it cannot build, where ``gx.ExpectationSuite(**data)`` logs and silently *drops* one of
an unknown type (a typo would disable a check). Optional top-level keys: ``suite_parameters``,
``notes``, ``id``.

Validating
----------
* :func:`validate_dataframe` - a pandas DataFrame (raw API batches; DuckDB tables, since GX has no
  DuckDB support), ``result_format`` COMPLETE so that row-level (column map) expectations report the
  index of every failing row.
* :func:`split_rows` - quarantine helper for raw batches: good rows, and each bad row's position with
  the descriptions of the expectations it failed. Rows listed as unexpected by a row-level
  expectation are bad even when a ``mostly`` threshold lets the expectation itself pass. A failing
  expectation that has no row list (row count, column sum, a missing column, ...) means the batch as a
  whole cannot be trusted: :class:`BatchRejected`.
* :func:`validate_sql_table` - a PostgreSQL table validated in-database through GX's SQL datasource
  (``result_format`` SUMMARY: counts and a few examples, no row list; failing rows are not pulled).
* :func:`validate_table` - dispatch on the engine/URL: PostgreSQL in-database, DuckDB via pandas.

GX runs in one ephemeral context per process, created on first use (importing GX takes seconds;
the context, its pandas datasource and the SQL datasources are then reused). Progress bars are off.
GX objects are not thread-safe (a datasource's execution engine holds the loaded batch), so each
thread has its own ephemeral context and datasources: sources extracting concurrently validate in
parallel, nothing process-wide serialises them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import math
import os
import threading
import uuid
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import pandas as pd  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import URL, Engine, make_url  # noqa: E402

if TYPE_CHECKING:
    import great_expectations as gx

__all__ = [
    "SUITES_DIR",
    "BatchRejected",
    "ExpectationResult",
    "SuiteResult",
    "columns_read",
    "load_suite",
    "split_rows",
    "validate_dataframe",
    "validate_sql_table",
    "validate_table",
]

#: where ``<suite name>.json`` files live: the repository's ``expectations/`` folder
SUITES_DIR: Path = Path(__file__).resolve().parents[3] / "expectations"

log = logging.getLogger(__name__)

#: pandas: COMPLETE gives every failing row's index; the index *query* (a string repeating every
#: index) is not wanted, and five examples per expectation are enough for a description.
_FRAME_RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 5,
    "return_unexpected_index_query": False,
}
#: a first pass over a raw batch: the same counts and examples, no row list (GX computes the
#: failing rows' index only when asked: ~20 % of a passing suite's time)
_FRAME_FIRST_PASS_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 5}
#: SQL: counts and a few examples only; COMPLETE would fetch every failing row out of the database.
_SQL_RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
#: SQL datasources kept (one per database URL); the least recently used beyond this is removed.
_MAX_SQL_SOURCES = 8
_SUITE_KEYS = {"name", "id", "meta", "expectations", "suite_parameters", "notes"}

# pandas warns on every regex with a capture group (``^-?\d+(\.\d+)?$``) that GX hands to
# Series.str.contains; for a match test the groups are irrelevant.
warnings.filterwarnings(
    "ignore",
    message="This pattern is interpreted as a regular expression, and has match groups",
    category=UserWarning,
)
# GX 1.14+ deprecates TableAsset(schema_name=...) in favour of a schema in the connection, which
# PostgresDatasource has no field for; schema_name still works throughout GX 1.x.
warnings.filterwarnings(
    "ignore", message="`schema_name` is deprecated", category=DeprecationWarning
)
_EXAMPLES_IN_DESCRIPTION = 3


# --------------------------------------------------------------------------- results


@dataclass
class ExpectationResult:
    """The outcome of one expectation of a suite on one batch/table."""

    expectation_type: str
    #: the kwargs as validated: suite parameters substituted, GX's ``batch_id`` removed
    kwargs: dict[str, Any]
    success: bool
    #: rows that failed a row-level expectation; None for table-level ones (and on errors)
    unexpected_count: int | None
    #: DataFrame index of each failing row (row-level expectations on DataFrames only)
    unexpected_index_list: list | None
    #: the aggregate an aggregate expectation measured (row count, column sum, ...)
    observed_value: Any
    #: a human sentence: the rule, then what was found
    description: str
    #: the expectation's ``meta`` from the suite file (e.g. ``{"reason": ...}``)
    meta: dict[str, Any] = field(default_factory=dict)
    #: why GX could not evaluate the expectation (missing column, SQL error, ...), else None
    error: str | None = None

    @property
    def row_level(self) -> bool:
        """True when the expectation reported failing rows by index (a column map expectation)."""
        return self.unexpected_index_list is not None

    @property
    def column(self) -> str | None:
        if "column" in self.kwargs:
            return str(self.kwargs["column"])
        if "column_list" in self.kwargs:
            return ",".join(map(str, self.kwargs["column_list"]))
        if "column_A" in self.kwargs and "column_B" in self.kwargs:
            return f"{self.kwargs['column_A']},{self.kwargs['column_B']}"
        return None


@dataclass
class SuiteResult:
    """All expectations of one suite, in the order of the suite file."""

    suite: str
    success: bool
    results: list[ExpectationResult]

    @property
    def failed(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per expectation, for ``ops.quality_results`` (kwargs/observed_value as JSON)."""
        return [
            {
                "suite": self.suite,
                "expectation_type": r.expectation_type,
                "column": r.column,
                "kwargs": json.dumps(_jsonable(r.kwargs), sort_keys=True),
                "success": bool(r.success),
                "unexpected_count": r.unexpected_count,
                "observed_value": None
                if r.observed_value is None
                else json.dumps(_jsonable(r.observed_value), sort_keys=True),
                "description": r.description,
            }
            for r in self.results
        ]

    def __str__(self) -> str:
        head = f"suite {self.suite}: {'passed' if self.success else 'FAILED'}"
        return "\n".join([head, *(f"  - {r.description}" for r in self.failed)])


class BatchRejected(Exception):
    """A table-level expectation failed: the batch as a whole cannot be trusted."""

    def __init__(self, result: SuiteResult) -> None:
        self.result = result
        reasons = [r.description for r in result.failed if not r.row_level]
        super().__init__(f"batch rejected by suite {result.suite}: " + "; ".join(reasons))


# --------------------------------------------------------------------------- suites


def _suite_path(name: str, suites_dir: Path | str | None) -> Path:
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"invalid suite name {name!r}")
    return Path(suites_dir if suites_dir is not None else SUITES_DIR) / f"{name}.json"


def load_suite(name: str, suites_dir: Path | None = None) -> gx.ExpectationSuite:
    """Read ``<suites_dir>/<name>.json`` into a (new, context-free) ``gx.ExpectationSuite``.

    Raises FileNotFoundError when there is no such suite and ValueError when the file is not a
    valid suite (including any expectation GX cannot build, which GX itself would silently drop).
    """
    path = _suite_path(name, suites_dir)
    with path.open(encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    return _build_suite(name, data, path)


def _build_suite(name: str, data: Any, path: Path) -> gx.ExpectationSuite:
    gx = _import_gx()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if not isinstance(data, dict):
        raise ValueError(f"{path}: a suite is a JSON object")
    unknown = set(data) - _SUITE_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown suite keys {sorted(unknown)} (allowed: {sorted(_SUITE_KEYS)})")
    if data.get("name") != name:
        raise ValueError(f"{path}: suite name {data.get('name')!r} does not match the file name {name!r}")
    expectations = data.get("expectations", [])
    if not isinstance(expectations, list):
        raise ValueError(f"{path}: 'expectations' must be a list")
    built = []
    for i, exp in enumerate(expectations):
        what = exp.get("type") if isinstance(exp, dict) else exp
        try:
            if not isinstance(exp, dict):
                raise TypeError("an expectation is a JSON object")
            built.append(ExpectationConfiguration(**exp).to_domain_obj())
        except Exception as exc:  # GX raises several types here; all mean "not a valid expectation"
            msg = getattr(exc, "message", None) or str(exc)
            raise ValueError(f"{path}: expectation #{i} ({what!r}) is not valid: {msg}") from exc
    return gx.ExpectationSuite(
        name=name,
        expectations=built,
        meta=json.loads(json.dumps(data["meta"])) if data.get("meta") else None,
        suite_parameters=data.get("suite_parameters"),
        notes=data.get("notes"),
        id=data.get("id"),
    )


# --------------------------------------------------------------------------- the GX runtime

#: each thread its own runtime (an ephemeral context costs ~10 ms once GX is imported): GX
#: objects are not thread-safe, and one runtime behind a lock serialised the validations of
#: every source extracting concurrently
_LOCAL = threading.local()
_IMPORT_LOCK = threading.Lock()


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    from revops.quality import gx_expectations  # noqa: F401 - registers the project's expectation

    _install_configuration_memo()
    _install_plain_ids()
    _install_decimals_without_stack()
    # GX fingerprints every pandas batch it is given (pandas' hash of the whole frame, then md5)
    # for the ``batch_markers`` in a result's meta, which nothing here reads (batch ids come from
    # the request, not the fingerprint): ~20 % of a raw suite's CPU (22k Meta rows 0.105 -> 0.085
    # s, 13k HubSpot contacts 0.129 -> 0.100 s). GX skips it for frames of HASH_THRESHOLD bytes
    # and more; 0 skips it for every frame.
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    return great_expectations


#: while one suite validates on this thread (:func:`_configurations_memoized`): id(expectation) ->
#: (the expectation, its configuration); None otherwise
_MEMO = threading.local()
#: :func:`_validate_batch` memoizes the expectations' configurations (tests compare with it off)
MEMOIZE_CONFIGURATIONS = True


def _install_configuration_memo() -> None:
    """GX 1.x's ``Expectation.configuration`` is a property that builds a new
    ``ExpectationConfiguration`` on every read (the model's ``dict()``, its class name turned to
    snake case by regex); a validation reads it some 90 times per expectation (each kwarg looked
    up goes through it), which is ~40 % of a raw suite's time on a 22k-row batch (0.13 -> 0.08 s
    per Meta suite, bench/README.md). The expectations GX validates are fresh objects built for
    that one call (``to_domain_obj`` of the suite's configurations, suite parameters already
    substituted) and nothing assigns to them while it runs, so within one validation call on one
    thread the first answer is kept and given again. Outside that call the property computes as
    GX does. ``tests/quality/test_gx_runner.py`` checks the results are the same either way."""
    from great_expectations.expectations.expectation import Expectation

    compute = Expectation.configuration.fget
    if getattr(compute, "memoized", False):
        return

    def configuration(self):
        memo = getattr(_MEMO, "configs", None)
        if memo is None:
            return compute(self)
        hit = memo.get(id(self))
        if hit is None or hit[0] is not self:  # the object is held, so its id is not reused
            hit = memo[id(self)] = (self, compute(self))
        return hit[1]

    configuration.memoized = True
    configuration.__wrapped__ = compute
    Expectation.configuration = property(configuration, doc=Expectation.configuration.__doc__)


#: :func:`_install_plain_ids`' shortcut is taken (tests compare with it off)
PLAIN_IDS = True


_JSON_LEAVES = (str, int, float, bool, type(None))


def _plain_json(value: Any) -> bool:
    """``value`` is made of exactly JSON's types (no subclasses: an enum, a numpy number or a
    GX dict class converts differently), dicts with string keys."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain_json(v) for v in value)
    return kind in _JSON_LEAVES


def _install_plain_ids() -> None:
    """GX 1.x names every metric it computes by an id of its kwargs (``IDDict.to_id``): the md5 of
    ``json.dumps(convert_to_json_serializable(kwargs), sort_keys=True)``. The conversion walks
    every value through some twenty type checks (numpy, pandas, Decimal, ...), and a validation
    builds a few hundred such ids: ~15 % of a raw suite's CPU (bench/README.md). For kwargs
    that are plain JSON already (strings, finite numbers, booleans, None, lists, string-keyed
    dicts: the usual), the conversion returns them as they are, so ``json.dumps`` of the kwargs
    themselves gives the same text and the same id; anything else (a NaN, a numpy or Decimal
    value, a date, a non-string key) takes GX's own path. ``tests/quality/test_gx_runner.py``
    checks the ids are GX's own."""
    import hashlib

    from great_expectations.core.id_dict import IDDict

    gx_id = IDDict.to_id
    if getattr(gx_id, "plain", False):
        return

    def to_id(self, id_keys=None, id_ignore_keys=None):
        if PLAIN_IDS and id_keys is None and id_ignore_keys is None and not self._id_ignore_keys \
                and len(self) > 1 and _plain_json(dict(self)):
            try:
                text = json.dumps(self, sort_keys=True, allow_nan=False)
            except ValueError:  # a NaN or an infinity: GX converts it
                return gx_id(self)
            return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
        return gx_id(self, id_keys, id_ignore_keys)

    to_id.plain = True
    to_id.__wrapped__ = gx_id
    IDDict.to_id = to_id


def _install_decimals_without_stack() -> None:
    """GX turns every ``Decimal`` a metric query returns (PostgreSQL's numerics: the marts'
    money) into a float through ``util.convert_decimal_to_float``, which first scans
    ``inspect.stack()`` for a frame of ``parameter_builder.py`` (the rule-based profiler's, to
    skip a warning). That reads the source of every frame of the thread, per value: ~23 ms a
    value in the PostgreSQL mart gate under xdist (``tests/marts``: 270 values, 6.2 of its 372
    worker-seconds, timed around GX's own function). GX 1.x
    ships no ``parameter_builder.py``, so the scan never finds one; the function without it
    (same warning on a lossy value, same float) is GX's own otherwise.
    ``tests/quality/test_gx_runner.py`` checks it names no such module and gives GX's floats."""
    import decimal

    from great_expectations import util

    if getattr(util.convert_decimal_to_float, "without_stack", False):
        return
    gx_convert = util.convert_decimal_to_float

    def convert_decimal_to_float(d):
        if isinstance(d, decimal.Decimal) and util.requires_lossy_conversion(d=d):
            util.logger.warning(
                f"Using lossy conversion for decimal {d} to float object to support serialization.")
        return float(d)

    convert_decimal_to_float.without_stack = True
    convert_decimal_to_float.__wrapped__ = gx_convert
    util.convert_decimal_to_float = convert_decimal_to_float


@contextmanager
def _configurations_memoized():
    if not MEMOIZE_CONFIGURATIONS:
        yield
        return
    _MEMO.configs = {}
    try:
        yield
    finally:
        _MEMO.configs = None


def prepare() -> threading.Thread:
    """Import GX in the background (a thread): ~3 s of CPU that the first changed batch's
    validation, or else the mart gate (which runs on every run), would otherwise wait for,
    overlapped with the extraction instead."""

    def _import() -> None:
        try:
            with _IMPORT_LOCK:
                _import_gx()
        except Exception:  # noqa: BLE001 - the gate imports it again and reports the failure
            log.debug("importing GX ahead of the gate failed", exc_info=True)

    thread = threading.Thread(target=_import, name="gx-import", daemon=True)
    thread.start()
    return thread


class _Runtime:
    """The process's ephemeral GX context and the objects reused across validations."""

    def __init__(self) -> None:
        gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        gx_logger = logging.getLogger("great_expectations")
        if gx_logger.level == logging.NOTSET:
            gx_logger.setLevel(logging.WARNING)
        # GX sets this one to INFO itself: a line per ephemeral context ("Created temporary
        # directory ... for ephemeral docs site"), one per thread's runtime, on the operator's console
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
        self.context = gx.get_context(mode="ephemeral")
        # GX shows a tqdm bar per validation unless the context's progress_bars say otherwise
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        pandas_source = self.context.data_sources.add_pandas("revops_pandas")
        self.frame_batches = pandas_source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe(
            "whole_frame"
        )
        self.sql_sources: OrderedDict[str, Any] = OrderedDict()  # url -> datasource (LRU order)
        self.sql_batches: dict[tuple[str, str, str], Any] = {}  # (url, schema, table) -> batch def
        self.suites: dict[Path, tuple[tuple[int, int], Any, dict[str, int]]] = {}
        self.suite_columns: dict[Path, set[str] | None] = {}
        self._seq = 0

    def suite(self, name: str, suites_dir: Path | str | None) -> tuple[Any, dict[str, int]]:
        """The parsed suite (cached until the file changes) and expectation id -> position."""
        path = _suite_path(name, suites_dir).resolve()
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self.suites.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        suite = load_suite(name, path.parent)
        positions: dict[str, int] = {}
        for i, exp in enumerate(suite.expectations):
            # GX returns results in its own order (errors first, then by metric graph); ids let the
            # results be put back in the order of the suite file
            exp.id = str(uuid.uuid4())
            positions[exp.id] = i
        self.suites[path] = (stamp, suite, positions)
        self.suite_columns[path] = _columns_read(suite)
        return suite, positions

    def columns_read(self, name: str, suites_dir: Path | str | None) -> set[str] | None:
        """The columns the suite's expectations read; None when one reads the whole table."""
        self.suite(name, suites_dir)
        return self.suite_columns[_suite_path(name, suites_dir).resolve()]

    def sql_batch_definition(self, url: str, schema: str, table: str) -> Any:
        key = (url, schema, table)
        source = self.sql_sources.get(url)
        if source is None:
            self._seq += 1
            name = f"revops_sql_{self._seq}"
            # GX's PostgresDatasource insists on a TCP host; a unix-socket URL (``?host=/dir``)
            # goes through the generic SQL datasource, which is the same SQLAlchemy underneath
            if url.startswith(("postgresql", "postgres:")) and make_url(url).host:
                source = self.context.data_sources.add_postgres(name, connection_string=url)
            else:
                with warnings.catch_warnings():  # "a more specific PostgresDatasource ..."
                    warnings.simplefilter("ignore")
                    source = self.context.data_sources.add_sql(name, connection_string=url)
            self.sql_sources[url] = source
            while len(self.sql_sources) > _MAX_SQL_SOURCES:
                old_url, old = self.sql_sources.popitem(last=False)
                self._drop_source(old_url, old)
        self.sql_sources.move_to_end(url)
        bd = self.sql_batches.get(key)
        if bd is None:
            asset_name = f"{schema}.{table}"
            try:
                asset = source.get_asset(asset_name)
            except LookupError:
                asset = source.add_table_asset(asset_name, table_name=table, schema_name=schema)
            try:
                bd = asset.get_batch_definition("whole_table")
            except KeyError:
                bd = asset.add_batch_definition_whole_table("whole_table")
            self.sql_batches[key] = bd
        return bd

    def _drop_source(self, url: str, source: Any) -> None:
        for key in [k for k in self.sql_batches if k[0] == url]:
            del self.sql_batches[key]
        _dispose_sql_source(source)
        try:
            self.context.data_sources.delete(source.name)
        except Exception:  # pragma: no cover - best effort cleanup
            log.debug("could not delete GX datasource %s", source.name, exc_info=True)


#: expectation kwargs that name the columns an expectation reads
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)


def _columns_read(suite: Any) -> set[str] | None:
    """Columns named by the suite's expectations, or None when an expectation is about the
    table's columns themselves (their set, order or count) and so needs every one."""
    columns: set[str] = set()
    for exp in suite.expectations:
        config = exp.configuration
        if "table_column" in config.type or config.type == "expect_column_to_exist":
            return None
        kwargs = config.kwargs
        columns.update(str(kwargs[k]) for k in _COLUMN_KWARGS if kwargs.get(k) is not None)
        for k in _COLUMN_LIST_KWARGS:
            columns.update(str(c) for c in kwargs.get(k) or [])
    return columns


def _runtime() -> _Runtime:
    """This thread's runtime, created on first use."""
    rt = getattr(_LOCAL, "runtime", None)
    if rt is None:
        with _IMPORT_LOCK:  # the first one imports GX (seconds); the others wait for it once
            rt = _LOCAL.runtime = _Runtime()
    return rt


def ready() -> None:
    """GX imported and this thread's context made (seconds, once per process and thread): what
    a caller timing one validation waits for first, so that the start-up is not counted as that
    batch's validation (``ops.run_streams.validation_seconds``)."""
    _runtime()


def _dispose_sql_source(source: Any) -> None:
    """Close the pooled connections of a GX SQL datasource; pools reopen lazily on next use.

    A GX SQL datasource has two SQLAlchemy engines: its own (``get_engine()``, used to test the
    connection and the table when an asset is added) and its execution engine's (validation).
    """
    engines = [source.get_engine()]
    if source.execution_engine is not None:
        engines.append(getattr(source.execution_engine, "engine", None))
    for engine in {id(x): x for x in engines if x is not None}.values():
        engine.dispose()


def _validate_batch(
    rt: _Runtime,
    suite_name: str,
    suites_dir: Path | str | None,
    batch_definition: Any,
    batch_parameters: dict[str, Any] | None,
    parameters: dict[str, Any] | None,
    result_format: dict[str, Any],
) -> SuiteResult:
    from great_expectations.exceptions import SuiteParameterError

    suite, positions = rt.suite(suite_name, suites_dir)
    batch = batch_definition.get_batch(batch_parameters=batch_parameters)
    try:
        with _configurations_memoized():
            gx_result = batch.validate(
                suite,
                result_format=dict(result_format),
                expectation_parameters=dict(parameters) if parameters else None,
            )
    except SuiteParameterError as exc:
        given = sorted(parameters or {})
        raise ValueError(f"suite {suite_name}: {exc} (parameters given: {given})") from exc
    ordered = sorted(gx_result.results, key=lambda r: positions.get(r.expectation_config.id, len(positions)))
    results = [_to_result(r) for r in ordered]
    return SuiteResult(suite=suite_name, success=all(r.success for r in results), results=results)


# --------------------------------------------------------------------------- public API


def validate_dataframe(
    suite_name: str,
    df: pd.DataFrame,
    parameters: dict[str, Any] | None = None,
    suites_dir: Path | None = None,
) -> SuiteResult:
    """Validate a DataFrame against a suite.

    Row-level results carry ``unexpected_index_list``: the DataFrame index labels of failing rows.
    """
    positional = df.reset_index(drop=True)
    rt = _runtime()
    result = _validate_batch(
        rt,
        suite_name,
        suites_dir,
        rt.frame_batches,
        {"dataframe": positional},
        parameters,
        _FRAME_RESULT_FORMAT,
    )
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        labels = df.index
        for r in result.results:
            if r.unexpected_index_list:
                r.unexpected_index_list = [_jsonable(labels[i]) for i in r.unexpected_index_list]
    return result


def columns_read(suite_name: str, suites_dir: Path | None = None) -> set[str] | None:
    """The columns ``suite_name``'s expectations read (None: one reads the table's columns
    themselves, so every column): what a caller converting a batch to pandas needs to convert."""
    return _runtime().columns_read(suite_name, suites_dir)


def split_rows(
    suite_name: str,
    df: pd.DataFrame,
    suites_dir: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, list[tuple[int, list[str]]], SuiteResult]:
    """Split a raw batch into good rows and bad rows.

    Returns ``(good, bad, result)``: ``good`` is ``df`` without the bad rows (index labels kept),
    ``bad`` is ``[(position, [description of each expectation the row failed, suite order, followed by
    the expectation's ``meta.reason`` in brackets when the suite gives one]), ...]``
    sorted by position (0-based, as for ``df.iloc`` / ``pyarrow.Table.take``).

    Raises :class:`BatchRejected` when an expectation without a row list fails (row count, sum,
    missing column, ...). An empty DataFrame is valid without running GX (the suite file must exist).
    """
    if len(df) == 0:
        if not _suite_path(suite_name, suites_dir).is_file():  # a wrong name fails on every batch
            raise FileNotFoundError(f"no suite {suite_name!r} in {suites_dir or SUITES_DIR}")
        return df, [], SuiteResult(suite=suite_name, success=True, results=[])
    # GX filters and hashes the whole frame for every metric: hand it only the columns the suite
    # reads (a third of a CRM object's columns; a column the suite names but the batch lacks is
    # still missing, and still rejects the batch)
    rt = _runtime()
    read = rt.columns_read(suite_name, suites_dir)
    frame = (df if read is None else df[[c for c in df.columns if c in read]]).reset_index(drop=True)
    # most batches pass: the row list is asked for (a second pass) only when some row failed
    result = _validate_batch(rt, suite_name, suites_dir, rt.frame_batches, {"dataframe": frame},
                             parameters, _FRAME_FIRST_PASS_FORMAT)
    if any(not r.success or r.unexpected_count for r in result.results):
        result = validate_dataframe(suite_name, frame, parameters, suites_dir)
    if any(not r.success and not r.row_level for r in result.results):
        raise BatchRejected(result)
    reasons: dict[int, list[str]] = {}
    for r in result.results:
        # the rule as checked, then the suite's own words for it (what a person fixing the line reads)
        why = r.description + (f" [{r.meta['reason']}]" if (r.meta or {}).get("reason") else "")
        for pos in r.unexpected_index_list or []:
            reasons.setdefault(int(pos), []).append(why)
    bad = sorted(reasons.items())
    if not bad:
        return df, [], result
    keep = [i for i in range(len(df)) if i not in reasons]
    return df.iloc[keep], bad, result


def validate_sql_table(
    suite_name: str,
    url: str,
    schema: str,
    table: str,
    parameters: dict[str, Any] | None = None,
    suites_dir: Path | None = None,
) -> SuiteResult:
    """Validate a PostgreSQL table in-database (``postgresql+psycopg://...`` URL).

    The GX datasource (one per URL) and table asset are reused across calls; the datasource's
    connections are closed after each validation so no idle connection outlives it.
    """
    rt = _runtime()
    bd = rt.sql_batch_definition(url, schema, table)
    try:
        return _validate_batch(rt, suite_name, suites_dir, bd, None, parameters, _SQL_RESULT_FORMAT)
    finally:
        _dispose_sql_source(bd.data_asset.datasource)


def validate_table(
    suite_name: str,
    engine_or_url: Engine | URL | str,
    schema: str,
    table: str,
    parameters: dict[str, Any] | None = None,
    suites_dir: Path | None = None,
) -> SuiteResult:
    """Validate a warehouse table: PostgreSQL in-database, DuckDB read into pandas.

    ``engine_or_url`` is a SQLAlchemy Engine or URL (``postgresql+psycopg://...``,
    ``duckdb:///path``). An Engine passed in is used as is (DuckDB) and never disposed; one built
    here from a URL is disposed before returning, so the DuckDB file is not left open.
    """
    if isinstance(engine_or_url, Engine):
        dialect = engine_or_url.dialect.name
        url = engine_or_url.url.render_as_string(hide_password=False)
    elif isinstance(engine_or_url, URL):
        url = engine_or_url.render_as_string(hide_password=False)
        dialect = engine_or_url.get_backend_name()
    else:
        url = str(engine_or_url)
        dialect = url.split(":", 1)[0].split("+", 1)[0]
    if dialect in ("postgresql", "postgres"):
        return validate_sql_table(suite_name, url, schema, table, parameters, suites_dir)
    if dialect == "duckdb":
        engine = engine_or_url if isinstance(engine_or_url, Engine) else create_engine(url)
        try:
            with engine.connect() as conn:
                df = pd.read_sql(text(f"select * from {_quote(schema)}.{_quote(table)}"), conn)
        finally:
            if engine is not engine_or_url:
                engine.dispose()
        return validate_dataframe(suite_name, df, parameters, suites_dir)
    raise ValueError(f"validate_table: unsupported warehouse {dialect!r} (PostgreSQL or DuckDB)")


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


# --------------------------------------------------------------------------- GX result -> ours


def _to_result(evr: Any) -> ExpectationResult:
    config = evr.expectation_config
    kwargs = {k: _jsonable(v) for k, v in config.kwargs.items() if k != "batch_id"}
    res = evr.result or {}
    error = _error_message(evr.exception_info)
    index_list = res.get("unexpected_index_list")
    index_list = None if index_list is None else [_jsonable(i) for i in index_list]
    count = res.get("unexpected_count")
    er = ExpectationResult(
        expectation_type=config.type,
        kwargs=kwargs,
        success=bool(evr.success),
        unexpected_count=None if count is None else int(count),
        unexpected_index_list=index_list,
        observed_value=_jsonable(res.get("observed_value")),
        description="",
        meta=dict(config.meta or {}),
        error=error,
    )
    er.description = _describe(er, res)
    return er


def _error_message(info: Any) -> str | None:
    """GX gives either {raised_exception, exception_message, ...} or {metric id: that dict}."""
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        return (info.get("exception_message") or "error") if info.get("raised_exception") else None
    if isinstance(info, dict):
        msgs = [_error_message(v) for v in info.values()]
        msgs = list(dict.fromkeys(m for m in msgs if m))
        return "; ".join(msgs) or None
    return str(info)


def _describe(r: ExpectationResult, res: dict[str, Any]) -> str:
    rule = _rule(r.expectation_type, r.kwargs)
    if r.error:
        return f"{rule}: could not be evaluated ({r.error})"
    if r.unexpected_count is not None:
        n = r.unexpected_count
        if n == 0:
            return f"{rule}: passed"
        outcome = f"{n} row{'s' if n != 1 else ''} failed"
        examples = _examples(r.expectation_type, res.get("partial_unexpected_list"))
        if examples:
            outcome += f" (e.g. {examples})"
        return f"{rule}: {outcome}" if not r.success else f"{rule}: passed, {outcome}"
    if "observed_value" in res:
        observed = f"observed {_fmt(r.observed_value)}"
        return f"{rule}: {observed}" if not r.success else f"{rule}: passed ({observed})"
    return f"{rule}: {'passed' if r.success else 'failed'}"


def _examples(expectation_type: str, values: Any) -> str:
    if not values or expectation_type == "expect_column_values_to_not_be_null":
        return ""
    seen: list[str] = []
    for v in values:
        s = (
            "(" + ", ".join(_fmt(x, quote=False) for x in v.values()) + ")"
            if isinstance(v, dict)
            else _fmt(v)
        )
        if len(s) > 40:
            s = s[:37] + "..."
        if s not in seen:
            seen.append(s)
        if len(seen) == _EXAMPLES_IN_DESCRIPTION:
            break
    return ", ".join(seen)


def _fmt(v: Any, quote: bool = True) -> str:
    v = _jsonable(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, str):
        return repr(v) if quote else v
    if isinstance(v, list):
        items = [_fmt(x) for x in v[:8]]
        return "[" + ", ".join(items) + (", ..." if len(v) > 8 else "") + "]"
    return str(v)


def _bounds(kw: dict[str, Any], lo: str = "min_value", hi: str = "max_value") -> str:
    mn, mx = kw.get(lo), kw.get(hi)
    lo_op = ">" if kw.get("strict_min") else ">="
    hi_op = "<" if kw.get("strict_max") else "<="
    if mn is not None and mx is not None:
        if not kw.get("strict_min") and not kw.get("strict_max"):
            return f"be between {_fmt(mn)} and {_fmt(mx)}"
        return f"be {lo_op} {_fmt(mn)} and {hi_op} {_fmt(mx)}"
    if mn is not None:
        return f"be {lo_op} {_fmt(mn)}"
    if mx is not None:
        return f"be {hi_op} {_fmt(mx)}"
    return "be anything"


_AGGREGATES = {
    "sum": "sum",
    "mean": "mean",
    "median": "median",
    "min": "min",
    "max": "max",
    "stdev": "standard deviation",
    "unique_value_count": "distinct count",
    "proportion_of_unique_values": "share of distinct values",
    "proportion_of_non_null_values": "share of non-null values",
}


def _rule(t: str, kw: dict[str, Any]) -> str:  # noqa: C901, PLR0911, PLR0912 - a lookup table
    col = kw.get("column")
    cols = ", ".join(map(str, kw.get("column_list") or []))
    if t == "expect_column_values_to_not_be_null":
        rule = f"{col} must not be null"
    elif t == "expect_column_values_to_be_null":
        rule = f"{col} must be null"
    elif t == "expect_column_values_to_match_regex":
        rule = f"{col} must match {kw.get('regex')}"
    elif t == "expect_column_values_to_not_match_regex":
        rule = f"{col} must not match {kw.get('regex')}"
    elif t == "expect_column_values_to_match_regex_list":
        rule = f"{col} must match {'all' if kw.get('match_on') == 'all' else 'one'} of {_fmt(kw.get('regex_list'))}"
    elif t == "expect_column_values_to_be_in_set":
        rule = f"{col} must be one of {_fmt(kw.get('value_set'))}"
    elif t == "expect_column_values_to_not_be_in_set":
        rule = f"{col} must not be one of {_fmt(kw.get('value_set'))}"
    elif t == "expect_column_values_to_be_unique":
        rule = f"{col} must be unique"
    elif t == "expect_compound_columns_to_be_unique":
        rule = f"grain ({cols}) must be unique"
    elif t == "expect_select_column_values_to_be_unique_within_record":
        rule = f"values of ({cols}) must differ within each row"
    elif t == "expect_column_values_to_be_between":
        rule = f"{col} must {_bounds(kw)}"
    elif t == "expect_column_value_lengths_to_be_between":
        rule = f"length of {col} must {_bounds(kw)}"
    elif t == "expect_column_value_lengths_to_equal":
        rule = f"length of {col} must be {_fmt(kw.get('value'))}"
    elif t == "expect_column_values_to_match_strftime_format":
        rule = f"{col} must be a date formatted {kw.get('strftime_format')}"
    elif t == "expect_column_values_to_be_iso_dates":
        rule = f"{col} must be a calendar date formatted %Y-%m-%d"
    elif t == "expect_column_values_to_be_dateutil_parseable":
        rule = f"{col} must be a parseable date"
    elif t == "expect_column_values_to_be_of_type":
        rule = f"{col} must be of type {kw.get('type_')}"
    elif t == "expect_column_values_to_be_in_type_list":
        rule = f"{col} must be of one of the types {_fmt(kw.get('type_list'))}"
    elif t == "expect_column_pair_values_to_be_equal":
        rule = f"{kw.get('column_A')} must equal {kw.get('column_B')}"
    elif t == "expect_column_pair_values_a_to_be_greater_than_b":
        op = ">=" if kw.get("or_equal") else ">"
        rule = f"{kw.get('column_A')} must be {op} {kw.get('column_B')}"
    elif t == "expect_multicolumn_sum_to_equal":
        rule = f"{' + '.join(map(str, kw.get('column_list') or []))} must equal {_fmt(kw.get('sum_total'))}"
    elif t == "expect_table_row_count_to_be_between":
        mn, mx = kw.get("min_value"), kw.get("max_value")
        if mn is not None and mx is None:
            rule = f"row count must be at least {_fmt(mn)}"
        elif mx is not None and mn is None:
            rule = f"row count must be at most {_fmt(mx)}"
        else:
            rule = f"row count must {_bounds(kw)}"
    elif t == "expect_table_row_count_to_equal":
        rule = f"row count must be {_fmt(kw.get('value'))}"
    elif t == "expect_column_to_exist":
        rule = f"column {col} must exist"
    elif t in ("expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"):
        cs = kw.get("column_set", kw.get("column_list"))
        rule = f"columns must be {_fmt(cs)}"
    elif t.startswith("expect_column_") and t.endswith("_to_be_between") and t[14:-14] in _AGGREGATES:
        rule = f"{_AGGREGATES[t[14:-14]]} of {col} must {_bounds(kw)}"
    else:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in kw.items() if k not in ("mostly", "result_format"))
        rule = f"{t.removeprefix('expect_').replace('_', ' ')} ({shown})"
    mostly = kw.get("mostly")
    if mostly is not None and mostly < 1:
        rule += f" (mostly {mostly * 100:g}%)"
    return rule


def _jsonable(v: Any) -> Any:
    """Plain JSON-able Python values (numpy scalars, Decimal, dates, NaN/NaT -> None)."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, bool):  # also numpy.bool_ via .item() below
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, float):  # numpy.float64 is a float subclass: make it a plain float
        return None if math.isnan(v) or math.isinf(v) else float(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return _jsonable(float(v))
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    item = getattr(v, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)
