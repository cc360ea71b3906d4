"""The contract every source follows.

A source declares its streams as data (:class:`Stream`) and yields :class:`Batch` objects:
an Arrow table of records exactly as the API sent them (strings stay strings) plus the sync
state that becomes true once that batch is loaded. The loader writes the batch and the state in
one transaction, so a crash between two batches resumes from the last loaded one.

Sources know nothing of Prefect or of the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson
import pyarrow as pa


@dataclass(frozen=True)
class Stream:
    source: str
    name: str
    primary_key: tuple[str, ...]
    schema: pa.Schema
    cursor_field: str | None = None
    #: re-pulled window behind the saved cursor (days for date cursors, minutes for timestamps)
    lookback: int = 0
    description: str = ""

    @property
    def table(self) -> str:
        """Name of the raw table: ``raw.<source>__<stream>``."""
        return f"{self.source}__{self.name}"


@dataclass
class Batch:
    stream: Stream
    records: pa.Table
    #: the stream's full state once this batch is loaded (None = unchanged)
    state: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.records.num_rows


class Source(Protocol):
    name: str

    @property
    def streams(self) -> list[Stream]: ...

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]: ...

    def check(self) -> str:
        """One cheap real request (``revops doctor``): what answered, or the connector's error."""
        ...


#: a record's key holding the fields the platform sent that the stream does not declare (schema
#: drift), ``{name: raw string}``: each becomes a new string column, so a new field is kept, not
#: dropped. A connector fills it only from the API object's own undeclared fields (see
#: :func:`new_fields`); any other key a connector puts in a record that the schema lacks drops.
NEW_FIELDS = "_new_fields"


def new_fields(api_object: dict[str, Any], stream: Stream, read: Any = ()) -> dict[str, str | None]:
    """The fields of ``api_object`` that ``stream`` does not declare and the connector does not
    ``read`` itself (e.g. a date range it turns into ``date_start``), as raw strings."""
    declared = set(stream.schema.names) | set(read)
    return {k: raw_string(v) for k, v in api_object.items() if k not in declared and k != NEW_FIELDS}


#: a paging cursor the server hands back this many times stops the read (a server paging in a
#: loop would otherwise be read forever; a page read again merges on its key)
MAX_CURSOR_REPEATS = 3


class CursorRepeats:
    """Follows a paging cursor and stops a read whose server repeats the cursor just followed
    :data:`MAX_CURSOR_REPEATS` times in a row (``what`` names the read in the error)."""

    def __init__(self, what: str, hint: str = ""):
        self.what, self.hint = what, hint
        self.last: str | None = None
        self.repeats = 0

    def follow(self, cursor: str | None) -> None:
        from revops.sources.errors import FatalAPIError

        self.repeats = self.repeats + 1 if cursor and cursor == self.last else 0
        self.last = cursor
        if self.repeats >= MAX_CURSOR_REPEATS:
            raise FatalAPIError(f"{self.what} repeated the same paging cursor {self.repeats} times; "
                                f"stopping instead of reading the same page forever{self.hint}")


def records_to_table(stream: Stream, records: list[dict[str, Any]]) -> pa.Table:
    """Build the stream's Arrow table; keys missing from a record become nulls, extra keys drop,
    except the platform's new fields a connector passes under :data:`NEW_FIELDS`: each becomes a
    string column after the declared ones (null in records without it).

    The records go to Arrow in one conversion of its own, as a struct array of the schema's
    fields (the same conversion per value as column by column; a key the struct does not
    name is not read): a list per column in Python cost 2-3x as much (20k records of 15
    fields: 20-24 ms against 68-144 ms), a fifth of reading the ad platforms' reports."""
    struct = pa.array(records, pa.struct(list(stream.schema)))
    table = pa.Table.from_arrays(struct.flatten(), schema=stream.schema)
    declared = set(stream.schema.names)
    extra = sorted({k for r in records for k in (r.get(NEW_FIELDS) or {}) if k not in declared})
    for name in extra:
        table = table.append_column(pa.field(name, pa.string()),
                                    pa.array([(r.get(NEW_FIELDS) or {}).get(name) for r in records], pa.string()))
    return table


def string_table(stream: Stream, objects: list[dict[str, Any]],
                 json_fields: Collection[str] = ()) -> pa.Table:
    """A string stream's table (:func:`string_schema`) straight from the API's objects, column
    by column, with what :func:`raw_string` would give for each value: a field in
    ``json_fields`` as compact JSON (as the platforms send it), and the fields the stream does
    not declare as new string columns after the declared ones (see :data:`NEW_FIELDS`). A dict
    per row, as :func:`records_to_table` takes, costs twice the rest of a page's handling."""
    found = string_columns(objects, [n for n in stream.schema.names if n not in json_fields])
    for name in stream.schema.names:
        if name in json_fields:
            found[name] = string_array([None if (v := o.get(name)) is None else orjson.dumps(v).decode()
                                        for o in objects])
    table = pa.Table.from_arrays([found[n] for n in stream.schema.names], schema=stream.schema)
    for name in sorted(set().union(*objects) - set(stream.schema.names) - {NEW_FIELDS}):
        table = table.append_column(pa.field(name, pa.string()), string_array([o.get(name) for o in objects]))
    return table


def string_columns(objects: list[dict[str, Any]], names: list[str],
                   convert: Callable[[Any], str | None] | None = None) -> dict[str, pa.Array]:
    """The ``names`` fields of ``objects`` as string arrays (a missing field null): in one pass of
    Arrow's own when every value is a string or null (the usual page; a list per column in
    Python cost 2-3.5x as much), else column by column through :func:`string_array`."""
    try:
        struct = pa.array(objects, pa.struct([(n, pa.string()) for n in names]))
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return {n: string_array([o.get(n) for o in objects], convert) for n in names}
    return dict(zip(names, struct.flatten(), strict=True))


def string_array(values: list[Any], convert: Callable[[Any], str | None] | None = None) -> pa.Array:
    """``values`` as a string array: as they are when they are all strings (or null, the usual
    case: Arrow checks that in C), else each through ``convert`` (:func:`raw_string` unless
    given)."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([(convert or raw_string)(v) for v in values], pa.string())


def raw_string(value: Any) -> str | None:
    """An API value as a raw string column keeps it: null stays null, booleans as JSON spells
    them, arrays and objects as JSON, anything else as its text (staging casts)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def string_schema(*names: str) -> pa.Schema:
    """A raw stream's schema: every column a string, as the API sent it (staging casts)."""
    return pa.schema([pa.field(n, pa.string()) for n in names])


def utc_now() -> datetime:
    """The default clock of a connector (injectable, so a test can pin "today")."""
    return datetime.now(UTC)


def date_windows(since: date, until: date, days: int) -> Iterator[tuple[date, date]]:
    """Inclusive ``days``-long windows covering since..until, ascending."""
    start = since
    while start <= until:
        end = min(until, start + timedelta(days=days - 1))
        yield start, end
        start = end + timedelta(days=1)


def utm_campaign_in(urls: Iterable[str | None], campaign_id: str | None, id_macros: Collection[str],
                    *, fold_case: bool = False) -> str | None:
    """The ``utm_campaign`` an ad's clicks carry, from the first of ``urls`` that has one (a
    query string, as Meta's ``url_tags`` or a final URL suffix, or a URL/template with a query),
    decoded (``+`` and ``%20`` are spaces). A platform macro in ``id_macros`` (compared
    case-insensitively with ``fold_case``) is ``campaign_id``; any other macro (``{...}``, filled
    in at click time with what the API does not tell) gives None, as does no such parameter."""
    for text in urls:
        if not text:
            continue
        query = urlsplit(text).query if "://" in text or "?" in text else text
        values = parse_qs(query.lstrip("?&")).get("utm_campaign")
        if not values:
            continue
        value = values[0].strip()
        if (value.lower() if fold_case else value) in id_macros:
            return campaign_id or None
        if value.startswith("{") and value.endswith("}"):
            return None
        return value or None
    return None
