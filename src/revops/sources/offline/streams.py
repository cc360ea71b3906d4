"""Offline spend streams as data, and the reader.

* ``spend_lines``: every data line of every CSV, **as written** (strings; an empty field is
  null), keyed by ``(file_name, line_number)`` with the ``file_version`` it was read from, plus
  ``campaign_id`` derived from the campaign name (:func:`offline_campaign_id`) and
  ``field_count`` (a line with a stray unquoted comma has 6 fields and is quarantined).
  Incremental per file: the state is each file's version; an unchanged file is not read, a
  changed one is read in full. A bad line is not dropped here: the GX suite quarantines it with
  its line number and reason.
* ``files``: the folder listing (full refresh) with the version each file's lines were loaded
  from, and a tombstone (``is_deleted = 'true'``) for a file that left the folder. Staging keeps
  only the lines of each listed file's current version, so lines deleted or moved in an edited
  file, and files removed, never linger.

No lookback window: a restated booking changes its file, and a changed file is re-read whole.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Iterator
from typing import Any


from revops.settings import Settings
from revops.sources.base import Batch, Stream, records_to_table, string_schema
from revops.sources.http import http_options
from revops.sources.errors import FatalAPIError
from revops.sources.offline.client import (
    LOCATION_ENV,
    ListedFile,
    LocalFolder,
    OfflineSpendClient,
)

log = logging.getLogger(__name__)

SOURCE = "offline"
#: the documented header (order free, case-insensitive; extra columns are ignored)
CSV_COLUMNS = ("date", "channel", "campaign", "amount", "currency")
LINE_COLUMNS = ("file_name", "line_number", "file_version", *CSV_COLUMNS, "campaign_id", "field_count")
FILE_COLUMNS = ("file_name", "file_version", "last_modified", "size", "is_deleted")


SPEND_LINES = Stream(
    source=SOURCE,
    name="spend_lines",
    primary_key=("file_name", "line_number"),
    schema=string_schema(*LINE_COLUMNS),
    cursor_field="file_version",
    description="One data line of a spend CSV (date,channel,campaign,amount,currency), as written.",
)
FILES = Stream(
    source=SOURCE,
    name="files",
    primary_key=("file_name",),
    schema=string_schema(*FILE_COLUMNS),
    description="The folder listing: each CSV's current version; tombstones for removed files.",
)


def offline_campaign_id(name: str) -> str:
    """Our campaign id for a campaign name: ``offline-`` + lowercase slug (the same rule as
    ``revops.sandbox.world.offline_campaign_id``; a test keeps them in step)."""
    return "offline-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse_csv(file_name: str, version: str, data: bytes) -> list[dict[str, Any]]:
    """The data lines of one file as records of strings. Line numbers are physical lines
    (header = line 1), so a quoted field spanning lines does not shift the ones after it."""
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        raise FatalAPIError(
            f"offline: {file_name} is not UTF-8 (byte {exc.start}); export it as CSV UTF-8"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    header: dict[str, int] | None = None
    records: list[dict[str, Any]] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise FatalAPIError(f"offline: {file_name} line {start}: {exc}") from exc
        if not any(cell.strip() for cell in row):  # blank line, or Excel's ",,,," filler
            continue
        if header is None:
            header = {cell.strip().lower(): i for i, cell in enumerate(row)}
            missing = [c for c in CSV_COLUMNS if c not in header]
            if missing:
                raise FatalAPIError(
                    f"offline: {file_name} line {start}: the header lacks {', '.join(missing)};"
                    f" the first line must be {','.join(CSV_COLUMNS)}"
                )
            continue
        record: dict[str, Any] = {
            "file_name": file_name,
            "line_number": str(start),
            "file_version": version,
            "field_count": str(len(row)),
        }
        for col in CSV_COLUMNS:
            i = header[col]
            record[col] = row[i] if i < len(row) and row[i] != "" else None
        campaign = record["campaign"]
        record["campaign_id"] = offline_campaign_id(campaign) if campaign and campaign.strip() else None
        records.append(record)
    if header is None and data.strip(b"\xef\xbb\xbf \r\n"):
        raise FatalAPIError(f"offline: {file_name} has no header line")
    return records


class OfflineSource:
    """The offline-spend connector: ``streams`` to declare, ``read`` to pull one stream."""

    name = SOURCE

    def __init__(self, settings: Settings, client: OfflineSpendClient | LocalFolder | None = None):
        self.settings = settings
        self._client = client
        self._listing: list[ListedFile] | None = None
        #: file -> version its lines were read from (or kept at) in this run
        self._loaded_versions: dict[str, str] = {}

    def check(self) -> str:
        """The folder (or its http listing) exists and lists; each listed file is readable."""
        files = self.client.list_files()
        if isinstance(self.client, LocalFolder):
            unreadable = [f.name for f in files if not os.access(self.client.path / f.name, os.R_OK)]
            if unreadable:
                raise FatalAPIError(f"offline: cannot read {', '.join(unreadable)} in {self.client.path}")
        return f"{len(files)} spend file(s) listed"

    @property
    def client(self) -> OfflineSpendClient | LocalFolder:
        """Made on first use: declaring the streams (every run does, to create the raw tables)
        must work for a company that has no offline spend folder."""
        if self._client is None:
            self._client = _client_from(self.settings)
        return self._client

    @property
    def streams(self) -> list[Stream]:
        return [SPEND_LINES, FILES]

    def read(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        readers = {SPEND_LINES.name: self._read_lines, FILES.name: self._read_files}
        yield from readers[stream.name](stream, state)

    def listing(self) -> list[ListedFile]:
        """Listed once per run: both streams see the same folder."""
        if self._listing is None:
            self._listing = self.client.list_files()
        return self._listing

    def _read_lines(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        saved: dict[str, str] = dict((state or {}).get("files") or {})
        listed = self.listing()
        versions = {f.name: saved[f.name] for f in listed if f.name in saved}  # gone files drop
        yielded = False
        for f in listed:
            if saved.get(f.name) == f.version:
                self._loaded_versions[f.name] = f.version
                continue
            got = self.client.read_file(f)
            if got is None:  # removed between the listing and the read
                log.info("offline: %s vanished after the listing", f.name)
                versions.pop(f.name, None)
                continue
            data, version = got
            records = parse_csv(f.name, version, data)
            versions[f.name] = version
            self._loaded_versions[f.name] = version
            yielded = True
            yield Batch(
                stream,
                records_to_table(stream, records),
                state={"files": dict(versions)},
                meta={"file_name": f.name, "file_version": version},
            )
        if not yielded and versions != saved:  # only removals: the state still moves on
            yield Batch(stream, records_to_table(stream, []), state={"files": dict(versions)})

    def _read_files(self, stream: Stream, state: dict[str, Any] | None) -> Iterator[Batch]:
        listed = self.listing()
        records = [
            {
                "file_name": f.name,
                "file_version": self._loaded_versions.get(f.name, f.version),
                "last_modified": f.mtime,
                "size": str(f.size),
                "is_deleted": "false",
            }
            for f in listed
        ]
        names = {f.name for f in listed}
        for gone in sorted(set((state or {}).get("files") or []) - names):
            records.append({"file_name": gone, "file_version": None, "last_modified": None,
                            "size": None, "is_deleted": "true"})
        yield Batch(stream, records_to_table(stream, records), state={"files": sorted(names)})


def _client_from(settings: Settings) -> OfflineSpendClient | LocalFolder:
    location = settings.offline_spend_location
    if not location:
        raise FatalAPIError(f"offline: no spend folder; set {LOCATION_ENV}")
    if location.startswith(("http://", "https://")):
        token = settings.offline_spend_token.get_secret_value() if settings.offline_spend_token else None
        return OfflineSpendClient(
            location,
            token,
            **http_options(settings),
        )
    return LocalFolder(location.removeprefix("file://"))
