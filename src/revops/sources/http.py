"""HTTP plumbing shared by every connector: a urllib3 pool, classified retries, secrets kept out
of logs.

A platform client subclasses :class:`ApiClient` and implements :meth:`classify`, which turns a
response into nothing (ok) or one of the errors in :mod:`revops.sources.errors`. Retries use
tenacity: only :class:`RetriableAPIError` (and connection failures) are retried, waiting the
server's own hint (Retry-After, regain time) when it gives one, else exponential backoff.

The transport is urllib3 itself rather than a ``requests.Session`` on top of it. Per request,
requests adds ``prepare_request`` (merging settings, cookies, hooks), ``HTTPAdapter.send`` and
``Response.content`` reading the body in 10 KB chunks (ten reads for a 100 KB page): a GET of a
100 KB JSON page from a local server cost 0.77-1.0 ms of CPU through the session and 0.47-0.58
ms through urllib3 alone (2 shared cores). bench/extract_bench.py makes 445 requests a run: its
project extract+load (validation off), alternating both transports in one process, took
1.68 s -> 1.36 s wall and 2.00 s -> 1.81 s CPU (medians of 6). What requests did that the
connectors rely on is kept, in
:meth:`ApiClient.transport`: the environment's proxy and CA bundle, requests' default headers,
gzip decoded, ``params`` and form ``data`` encoded as requests encodes them, redirects followed
as requests follows them, urllib3's errors raised as requests' (so the retry classification and
:func:`revops.sources.errors.is_transient` are unchanged), and a ``requests.Response`` for the
connectors to read.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
import urllib3
from requests.models import RequestEncodingMixin
from requests.sessions import SessionRedirectMixin
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    default_headers,
    get_auth_from_url,
    get_encoding_from_headers,
    get_environ_proxies,
    select_proxy,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from revops.sources.errors import AuthExpiredError, FatalAPIError, RetriableAPIError

log = logging.getLogger(__name__)

#: redirects followed before giving up, as requests (``Session.max_redirects``)
MAX_REDIRECTS = 30
#: what requests' ``params=``/``data=`` encoding is (a dict's None values left out, lists repeated)
encode_params = RequestEncodingMixin._encode_params
#: requests' rule for dropping Authorization on a redirect (another host, a scheme downgrade)
_REDIRECTS = SessionRedirectMixin()
#: urllib3's errors (first match wins: NewConnectionError is a ConnectTimeoutError) and the
#: requests error each is raised as, as requests' own adapter raises them
_AS_REQUESTS: tuple[tuple[type[Exception], type[requests.RequestException]], ...] = (
    (urllib3.exceptions.NewConnectionError, requests.ConnectionError),
    (urllib3.exceptions.ConnectTimeoutError, requests.ConnectTimeout),
    (urllib3.exceptions.ReadTimeoutError, requests.ReadTimeout),
    (urllib3.exceptions.SSLError, requests.exceptions.SSLError),
    (urllib3.exceptions.ProxyError, requests.exceptions.ProxyError),
    (urllib3.exceptions.ProtocolError, requests.ConnectionError),  # reset, truncated
    (urllib3.exceptions.ClosedPoolError, requests.ConnectionError),
    (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError),
)


class ApiClient:
    platform = "api"
    #: the variable holding the credential to renew when auth fails for good
    secret_env: str | None = None
    #: connections kept open per host: requests' default (10); a client whose source sends more
    #: requests at once than that raises it, or urllib3 opens and drops one per extra request
    connections: int = 10

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        max_backoff: float = 60.0,
        user_agent: str = "revops-warehouse/0.1",
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_backoff = max_backoff
        #: sent with every request: requests' defaults (Accept-Encoding, Accept, Connection)
        self.headers = {**default_headers(), "User-Agent": user_agent}
        self.pool = pool_manager(self.base_url, self.connections)
        #: how many requests were sent, retried, refreshed: reported in ops.runs (:meth:`count`)
        self.stats = {"requests": 0, "retries": 0, "auth_refreshes": 0}
        self._stats_lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        """``stats[key] += n``, not losing a count when a source reads streams side by side
        (one client, several threads: ``stats[key] += 1`` is a read and a write)."""
        with self._stats_lock:
            self.stats[key] = self.stats.get(key, 0) + n

    # --- to override ------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def refresh_auth(self) -> bool:
        """Refresh credentials after an :class:`AuthExpiredError`; False = cannot refresh."""
        return False

    def classify(self, response: requests.Response) -> None:
        """Raise the right error for a failed response; return for a good one."""
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(
                f"{self.platform}: HTTP {response.status_code}",
                retry_after=retry_after_seconds(response),
            )
        if response.status_code >= 400:
            raise FatalAPIError(f"{self.platform}: HTTP {response.status_code}: {response.text[:500]}")

    # --- the request loop ---------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(float(hint), self.max_backoff)
        return wait_exponential_jitter(multiplier=0.5, max=self.max_backoff)(state)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.count("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: retry %d after %s (%.1fs)",
            self.platform,
            state.attempt_number,
            exc,
            state.next_action.sleep if state.next_action else 0,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send with retries; ``url`` may be absolute (a paging link) or relative to base_url."""
        refreshed = False
        retrying = Retrying(
            retry=retry_if_exception_type((RetriableAPIError, requests.ConnectionError, requests.Timeout)),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        while True:
            try:
                return retrying(self._send, method, url, **kwargs)
            except AuthExpiredError as exc:
                if refreshed or not self.refresh_auth():
                    what = self.secret_env or "the credential in the environment"
                    raise FatalAPIError(
                        f"{self.platform}: access token rejected"
                        f"{' after a refresh' if refreshed else ''} ({exc}); renew {what}"
                    ) from exc
                refreshed = True
                self.count("auth_refreshes")

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not url.startswith(("http://", "https://")):
            url = f"{self.base_url}/{url.lstrip('/')}"
        headers = {**self.auth_headers(), **kwargs.pop("headers", {})}
        if "json" in kwargs:  # the body as requests would send it, encoded 3-5x faster
            kwargs["data"] = orjson.dumps(kwargs.pop("json"))
            headers.setdefault("Content-Type", "application/json")
        self.count("requests")
        response = self.transport(method, url, headers=headers, **kwargs)
        self.classify(response)
        return response

    # --- the transport ----------------------------------------------------------------------
    def transport(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> requests.Response:
        """One HTTP exchange, no retry, no classification: every request a client sends goes
        through here (bench/extract_bench.py wraps it to record the pages). ``url`` absolute;
        ``params`` and ``data`` (a dict is form-encoded, bytes sent as they are) as requests
        takes them. Redirects are followed as requests follows them: 301/302/303 become a GET
        without body (POST for a 301, any method but HEAD for 302/303), 307/308 resend as they
        were, and the Authorization header is dropped when the host changes."""
        if params:
            query = encode_params(params)
            if query:
                base, _, given = url.partition("?")
                url = f"{base}?{given}&{query}" if given else f"{base}?{query}"
        sent = urllib3.HTTPHeaderDict(self.headers)
        for name, value in (headers or {}).items():  # case-insensitive, as requests merges them
            if value is None:
                sent.discard(name)
            else:
                sent[name] = value
        body = data
        if isinstance(data, dict | list):
            body = encode_params(data)
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        for _ in range(MAX_REDIRECTS + 1):
            raw = self._urlopen(method, url, body, sent)
            location = raw.get_redirect_location()
            if not location:
                return self._response(raw, method, url, body, sent)
            target = urljoin(url, location)
            # requests' SessionRedirectMixin.rebuild_method, then its body purge
            if (raw.status in (302, 303) and method != "HEAD") or (raw.status == 301 and method == "POST"):
                method = "GET"
            if raw.status not in (307, 308):
                body = None
                for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                    sent.discard(name)
            if _REDIRECTS.should_strip_auth(url, target):
                sent.discard("Authorization")  # the credential must not travel to another host
            url = target
        raise requests.TooManyRedirects(f"{self.platform}: more than {MAX_REDIRECTS} redirects")

    def _urlopen(self, method: str, url: str, body: Any, headers: urllib3.HTTPHeaderDict) -> Any:
        """urllib3's request, its errors raised as requests' would be (:data:`_AS_REQUESTS`),
        wrapping the same urllib3 error (the retries classify requests' types) and carrying the
        failed request, as requests' own do (``exc.request``: method and URL, no headers or body;
        ``revops doctor`` names the setting it came from). With ``retries=False`` urllib3 raises
        the error itself, whose text names the host, not the URL (a query string may carry a
        credential): requests' MaxRetryError text named the path and query too."""
        try:
            return self.pool.urlopen(method, url, body=body, headers=headers, timeout=self.timeout,
                                     redirect=False, preload_content=True, decode_content=True)
        except urllib3.exceptions.LocationValueError:
            raise requests.exceptions.InvalidURL(
                f"{self.platform}: invalid URL for host {urlsplit(url).hostname!r}") from None
        except urllib3.exceptions.HTTPError as exc:
            as_requests = next((theirs for ours, theirs in _AS_REQUESTS if isinstance(exc, ours)), None)
            if as_requests is None:
                raise
            failed = requests.PreparedRequest()
            failed.method, failed.url = method, url
            raise as_requests(exc, request=failed) from exc

    @staticmethod
    def _response(raw: Any, method: str, url: str, body: Any, headers: Any) -> requests.Response:
        """The ``requests.Response`` the connectors read, built as requests' ``HTTPAdapter.
        build_response`` does, the body already read whole (``preload_content``)."""
        request = requests.PreparedRequest()
        request.method, request.url, request.headers, request.body = method, url, headers, body
        response = requests.Response()
        response.status_code = raw.status
        response.headers = CaseInsensitiveDict(raw.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = raw.reason
        response.url = url
        response.raw = raw
        response.request = request
        response._content = raw.data
        response._content_consumed = True
        return response

    def json(self, response: requests.Response) -> Any:
        """Parse a body; a truncated or non-JSON body is transient (the next try usually works).
        orjson: a page decodes 2-3x faster than with requests' ``json()``. It reads integers
        beyond 64 bits as floats: the APIs read here send ids as strings, and Salesforce, whose
        numbers are money, keeps its own Decimal parser."""
        try:
            return orjson.loads(response.content)
        except ValueError as exc:
            raise RetriableAPIError(f"{self.platform}: malformed JSON body ({exc})") from exc

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return self._with_body_retry("GET", url, **kwargs)

    def post_json(self, url: str, **kwargs: Any) -> Any:
        return self._with_body_retry("POST", url, **kwargs)

    def _with_body_retry(self, method: str, url: str, **kwargs: Any) -> Any:
        """Request and parse, retrying a truncated body like any transient failure."""
        for attempt in range(self.max_retries + 1):
            response = self.request(method, url, **kwargs)
            try:
                return self.json(response)
            except RetriableAPIError:
                if attempt == self.max_retries:
                    raise
                self.count("retries")
        raise AssertionError("unreachable")


def http_options(settings: Any) -> dict[str, Any]:
    """The HTTP behaviour every client takes from settings (timeout, retries, backoff cap)."""
    return {
        "timeout": settings.http_timeout_seconds,
        "max_retries": settings.http_max_retries,
        "max_backoff": settings.http_max_backoff_seconds,
    }


def pool_manager(base_url: str, connections: int) -> urllib3.PoolManager:
    """The client's connection pools: through the environment's proxy for ``base_url`` if it
    names one (read once, as the requests session did with ``trust_env`` off), verifying TLS
    against REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or else certifi's bundle, as requests does.
    ``retries=False``: tenacity retries, urllib3 raises at once."""
    ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or DEFAULT_CA_BUNDLE_PATH
    options: dict[str, Any] = {
        "num_pools": 10,  # requests' pool_connections
        "maxsize": connections,  # requests' pool_maxsize (ApiClient.connections)
        "retries": False,
        "cert_reqs": "CERT_REQUIRED",
        ("ca_cert_dir" if os.path.isdir(ca) else "ca_certs"): ca,
    }
    proxy = select_proxy(base_url, get_environ_proxies(base_url))
    if not proxy:
        return urllib3.PoolManager(**options)
    if proxy.lower().startswith("socks"):
        from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as with requests

        return SOCKSProxyManager(proxy, **options)
    username, password = get_auth_from_url(proxy)
    if username:
        options["proxy_headers"] = urllib3.make_headers(proxy_basic_auth=f"{username}:{password}")
    return urllib3.proxy_from_url(proxy, **options)


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
