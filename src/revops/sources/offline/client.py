"""Reading finance's offline-spend CSV folder: over HTTP (an nginx ``autoindex_format json``
listing) or from a local folder. Both give the same two things: the listing (name, mtime, size)
and a file's bytes.

HTTP specifics handled here (nginx semantics):

* the listing is ``[{ "name":"2026-06.csv", "type":"file", "mtime":"Mon, 01 Jun 2026 10:00:00
  GMT", "size":1234 }, ...]`` (CRLF between entries, directories first, ``type`` may be
  ``directory`` or ``other``); only ``*.csv`` files are read, sub-folders are not descended;
* nginx's ETag is ``"<mtime hex>-<size hex>"``: the file version we use as the cursor is built
  the same way from the listing, and a GET's own ETag wins when the file changed in between;
* a short body (proxy cut, truncated transfer) is detected against the size the ETag or the
  listing announced, and retried like a 5xx: a half file must never load as a whole one;
* 429, 5xx (nginx ``limit_req`` answers **503** by default, not 429) are retried, honouring
  ``Retry-After``; 401/403 are fatal and name ``REVOPS_OFFLINE_SPEND_TOKEN`` (there is no
  refresh token: a person issues a new one). The token travels only in the ``Authorization``
  header, never in a URL, a log line or an exception.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import requests

from revops.sources.errors import AuthExpiredError, FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient, retry_after_seconds

log = logging.getLogger(__name__)

SECRET_ENV = "REVOPS_OFFLINE_SPEND_TOKEN"
LOCATION_ENV = "REVOPS_OFFLINE_SPEND_LOCATION"
#: nginx's ETag: "<mtime in hex>-<size in hex>"
NGINX_ETAG = re.compile(r'^(?:W/)?"([0-9a-f]+)-([0-9a-f]+)"$')


@dataclass(frozen=True)
class ListedFile:
    """One CSV in the folder, as the listing shows it."""

    name: str
    #: as listed: RFC 1123 (``Mon, 01 Jun 2026 10:00:00 GMT``) over HTTP, ISO 8601 UTC locally
    mtime: str
    size: int
    #: the cursor: changes whenever the file's content may have changed
    version: str


def nginx_etag(mtime_epoch: int, size: int) -> str:
    return f'"{mtime_epoch:x}-{size:x}"'


def version_from_listing(mtime: str, size: int) -> str:
    """The version nginx's ETag would carry for a listed file (mtime to the second + size)."""
    try:
        epoch = int(parsedate_to_datetime(mtime).timestamp())
    except (TypeError, ValueError):
        return f"{mtime}|{size}"
    return nginx_etag(epoch, size)


class OfflineSpendClient(ApiClient):
    """The folder over HTTP(S)."""

    platform = "offline"
    secret_env = SECRET_ENV

    def __init__(self, folder_url: str, token: str | None, **kwargs: Any):
        # nginx serves a listing only for a path ending in "/" (else a 301 redirect)
        super().__init__(folder_url if folder_url.endswith("/") else folder_url + "/", **kwargs)
        self.folder_url = self.base_url + "/"
        self._token = token or ""

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def classify(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400 or status == 404:  # 404: the caller knows what a missing file means
            return
        if status == 429 or status >= 500:
            raise RetriableAPIError(
                f"offline: HTTP {status} from the spend folder", retry_after=retry_after_seconds(response)
            )
        if status in (401, 403):
            challenge = self._scrub(response.headers.get("WWW-Authenticate", ""))
            if status == 401 and "expired" in challenge.lower():
                raise AuthExpiredError(f"offline: HTTP 401, {challenge}")
            what = "rejected" if self._token else f"required but {SECRET_ENV} is not set"
            raise FatalAPIError(
                f"offline: HTTP {status} from the spend folder: the bearer token was {what}"
                f" ({challenge or 'no challenge'}); set or renew {SECRET_ENV}"
            )
        raise FatalAPIError(f"offline: HTTP {status}: {self._scrub(response.text[:300])}")

    # --- the folder ---------------------------------------------------------------------
    def list_files(self) -> list[ListedFile]:
        body = self.get_json(self.folder_url)
        if not isinstance(body, list):
            raise FatalAPIError(
                f"offline: {self.folder_url} is not an nginx JSON listing (autoindex_format json;)"
            )
        files = []
        for entry in body:
            if not isinstance(entry, dict) or entry.get("type") != "file":
                continue
            name = str(entry.get("name", ""))
            if not name.lower().endswith(".csv"):
                continue
            mtime, size = str(entry.get("mtime", "")), int(entry.get("size", 0))
            files.append(ListedFile(name, mtime, size, version_from_listing(mtime, size)))
        return sorted(files, key=lambda f: f.name)

    def read_file(self, listed: ListedFile) -> tuple[bytes, str] | None:
        """The file's bytes and version; None if it vanished since the listing (404).
        A body shorter or longer than announced is retried as a truncated transfer."""
        url = urljoin(self.folder_url, quote(listed.name))
        for attempt in range(self.max_retries + 1):
            response = self.request("GET", url)
            if response.status_code == 404:
                return None
            body = response.content
            etag = response.headers.get("ETag", "")
            match = NGINX_ETAG.match(etag)
            expected = int(match.group(2), 16) if match else listed.size
            if len(body) == expected:
                return body, (etag if match else listed.version)
            if attempt == self.max_retries:
                raise RetriableAPIError(
                    f"offline: {listed.name}: got {len(body)} bytes of {expected}, {attempt + 1} times"
                )
            log.warning("offline: %s: truncated body (%d of %d bytes), retrying",
                        listed.name, len(body), expected)
            self.count("retries")
        raise AssertionError("unreachable")


class LocalFolder:
    """The folder on disk: same listing and reads, version = mtime (ns) + size."""

    platform = "offline"

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.stats = {"requests": 0, "retries": 0, "auth_refreshes": 0}

    def list_files(self) -> list[ListedFile]:
        if not self.path.is_dir():
            raise FatalAPIError(f"offline: {self.path} is not a folder; check {LOCATION_ENV}")
        files = []
        for p in sorted(self.path.iterdir(), key=lambda p: p.name):
            if not p.is_file() or not p.name.lower().endswith(".csv"):
                continue
            st = p.stat()
            mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat(timespec="seconds")
            files.append(ListedFile(p.name, mtime, st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}"))
        return files

    def read_file(self, listed: ListedFile) -> tuple[bytes, str] | None:
        p = self.path / listed.name
        self.stats["requests"] += 1
        try:
            data = p.read_bytes()
            st = p.stat()
        except FileNotFoundError:
            return None
        return data, f"{st.st_mtime_ns:x}-{st.st_size:x}"
