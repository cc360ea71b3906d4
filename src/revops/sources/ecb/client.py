"""HTTP client for the ECB's euro foreign exchange reference rate files.

The ECB publishes static files, not an API: no credential, no paging, no JSON. What can go
wrong is what goes wrong with any big static download behind a CDN:

* throttling (HTTP 429, sometimes with ``Retry-After``) and 5xx pages from the web front:
  transient, retried;
* a body cut short (a truncated zip raises ``BadZipFile``, a truncated XML ``ParseError``):
  transient, the next download is usually whole, so it is retried like a 5xx;
* a 200 answer that is not the file (an HTML maintenance or consent page): the zip or XML does
  not parse, so it is retried the same way, and fails for good after the retries;
* 404 or 403: the URL (``REVOPS_ECB_BASE_URL``) is wrong or we are blocked: fatal, retrying
  cannot help.

The files, their formats and the publication calendar (around 16:00 CET on TARGET working days
only) are described in the connector's README.md; the ECB's own page:
https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar
from xml.etree import ElementTree

import requests

from revops.sources.errors import FatalAPIError, RetriableAPIError
from revops.sources.http import ApiClient, retry_after_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")

BASE_URL_ENV = "REVOPS_ECB_BASE_URL"


class EcbClient(ApiClient):
    platform = "ecb"
    #: public files: nothing to renew
    secret_env = None

    def classify(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status in (408, 429) or status >= 500:
            raise RetriableAPIError(
                f"ecb: HTTP {status} for {_path(response)}",
                retry_after=retry_after_seconds(response),
            )
        if status == 404:
            raise FatalAPIError(
                f"ecb: HTTP 404 for {_path(response)}: the file is not there; check {BASE_URL_ENV} "
                "(default https://www.ecb.europa.eu/stats/eurofxref)"
            )
        raise FatalAPIError(
            f"ecb: HTTP {status} for {_path(response)}: {_text(response)[:200]}"
        )

    def download(self, path: str, parse: Callable[[bytes], T]) -> T:
        """GET a file and parse it; a body that does not parse (truncated zip or XML, an HTML
        page instead of the file) is transient and retried like a 5xx."""
        for attempt in range(self.max_retries + 1):
            response = self.request("GET", path)
            try:
                return parse(response.content)
            except (zipfile.BadZipFile, ElementTree.ParseError, MalformedFileError) as exc:
                if attempt == self.max_retries:
                    raise RetriableAPIError(
                        f"ecb: {path} still unreadable after {attempt + 1} downloads ({exc})"
                    ) from exc
                self.count("retries")
                log.warning("ecb: %s unreadable (%s); downloading again", path, exc)
        raise AssertionError("unreachable")


class MalformedFileError(ValueError):
    """The body is a zip/XML but not the expected file (wrong member, wrong root element)."""


def unzip_member(body: bytes, name: str) -> str:
    """The text of ``name`` in a zip body; BadZipFile for a truncated or non-zip body."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        try:
            raw = archive.read(name)
        except KeyError as exc:
            raise MalformedFileError(f"no {name} in the zip ({archive.namelist()})") from exc
    return raw.decode("utf-8-sig")


def _path(response: requests.Response) -> str:
    return requests.utils.urlparse(response.url).path or response.url


def _text(response: Any) -> str:
    try:
        return " ".join(response.text.split())
    except Exception:  # noqa: BLE001 - an undecodable body only shortens the message
        return ""
