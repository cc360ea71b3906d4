"""Base for the fake platform APIs: a real WSGI server (werkzeug) on 127.0.0.1, in a thread.

Each platform subclasses :class:`SandboxApp`, declares its routes, checks its own auth and
renders faults in its own wire format. Tests steer it through three handles:

* ``app.as_of``: the clock; the world is served as it was at that moment;
* ``app.faults.add(kind, times=1, path=..., after=0)``: the next matching requests (after
  ``after`` of them passed) fail with ``kind``
  (``rate_limit``, ``server_error``, ``expired_token``, ``truncated``, ``slow``, platform extras,
  and the transport faults every platform shares, :data:`TRANSPORT_FAULTS`);
* ``app.log``: every request received (method, path, query, JSON body), to assert paging.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from revops.sandbox.world import World


@dataclass
class LoggedRequest:
    method: str
    path: str
    args: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class _Fault:
    kind: str
    times: int
    path: str | None
    skip: int = 0


@dataclass
class Faults:
    """Scheduled failures, consumed in order by matching requests. Thread-safe."""

    _items: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, times: int = 1, path: str | None = None, after: int = 0) -> None:
        """Fail the next ``times`` requests whose path contains ``path``, once ``after`` of
        them have passed (``after`` lets a crash land in the middle of a stream)."""
        with self._lock:
            self._items.append(_Fault(kind, times, path, after))

    def take(self, path: str) -> str | None:
        with self._lock:
            for item in self._items:
                if item.path is None or item.path in path:
                    if item.skip > 0:
                        item.skip -= 1
                        return None
                    item.times -= 1
                    if item.times <= 0:
                        self._items.remove(item)
                    return item.kind
        return None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: faults that happen between the client and the platform, the same whatever the platform:
#: ``gateway_429`` a load balancer's 429 HTML page with no Retry-After; ``gateway_502`` and
#: ``gateway_503`` its 502/503 HTML pages (503 with ``Retry-After: 1``); ``connection_reset``
#: the connection dropped with no response at all (the client sees it aborted); ``read_timeout``
#: no byte for ``SandboxApp.timeout_seconds`` (longer than a test client's timeout), then the
#: normal answer
TRANSPORT_FAULTS = ("gateway_429", "gateway_502", "gateway_503", "connection_reset", "read_timeout")

#: faults a platform renders inside a normal answer (its endpoints read ``SandboxApp.fault_of``):
#: ``empty_page`` no results but a next cursor (the rows come on the next page), ``repeat_cursor``
#: the page's next cursor is the one the request sent (the same page again), ``short_page`` fewer
#: rows than the limit asked, silently, with a next cursor after them. HubSpot, Meta, LinkedIn
#: (entity finders) and Salesforce render them, each in its own paging format.
PAGING_FAULTS = ("empty_page", "repeat_cursor", "short_page")

_GATEWAY_PAGES = {
    429: ("Too Many Requests", {}),
    502: ("Bad Gateway", {}),
    503: ("Service Temporarily Unavailable", {"Retry-After": "1"}),
}


def gateway_page(status: int) -> Response:
    title, headers = _GATEWAY_PAGES[status]
    html = f"<html><head><title>{status} {title}</title></head><body><center><h1>{status} {title}</h1></center><hr><center>nginx</center></body></html>"
    return Response(html, status=status, headers=headers, mimetype="text/html")


def _drop_connection(request: Request) -> Response:
    """Close the client's connection without answering (linger 0: reset rather than a clean
    close where the OS allows); the client's read fails as a connection error."""
    import struct

    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(b"", status=200)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON. orjson, not the standard library's encoder: at the large world's size
    encoding pages was 9 % of the sandbox's CPU, against 1.5 % now (bench.large_bench --scale
    0.1 --py-spy). The bytes differ only where JSON leaves a choice (no spaces, UTF-8 rather
    than ``\\u`` escapes): every value a connector parses is the same."""
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


#: no entry in :attr:`SandboxApp._cache` (a built answer may be None)
_UNBUILT = object()


class SandboxApp:
    """Subclass: set ``platform``, build ``url_map`` in ``routes()``, implement ``authorized``
    and ``fault_response``; endpoints are methods named by the rules' endpoint."""

    platform = "sandbox"
    slow_seconds = 2.0
    #: how long ``read_timeout`` keeps the client waiting (tests set a shorter client timeout)
    timeout_seconds = 1.5

    def __init__(self, world: World, *, token: str, as_of: datetime | None = None):
        self.world = world
        self.token = token
        self.as_of = as_of or world.now
        self.faults = Faults()
        self.log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self.url_map = Map(self.routes())
        #: what a platform renders from the world at a clock, kept for the next request
        #: (:meth:`_built_once`)
        self._cache: dict[tuple, Any] = {}
        self._cache_lock = threading.Lock()
        #: held while such an entry is built (re-entrant: a build may need another one): a large
        #: world's records take minutes, and a request that comes while they are built (a
        #: client's retry after its timeout) waits for that build instead of starting one beside
        #: it. At 1M contacts, HubSpot requests each building their own (seven at once, sharing
        #: the GIL) held 14 GB and none finished in 20 minutes
        self._build_lock = threading.RLock()

    def _built_once(self, kind: tuple, switches: tuple, build: Callable[[], Any]) -> Any:
        """The cache's entry for ``kind + switches`` (what is built, then the clock and the
        switches it is built at), built by ``build`` when there is none, one build at a time
        (:attr:`_build_lock`: a request that waited for another's build takes its result). The
        new entry replaces those of the same kind built at another clock or other switches."""
        key = kind + switches
        with self._cache_lock:
            value = self._cache.get(key, _UNBUILT)
        if value is not _UNBUILT:
            return value
        with self._build_lock:
            with self._cache_lock:
                value = self._cache.get(key, _UNBUILT)  # built while this request waited
            if value is _UNBUILT:
                value = build()
                with self._cache_lock:
                    others = {k: v for k, v in self._cache.items() if k[:len(kind)] != kind}
                    self._cache = {key: value, **others}
        return value

    def forget(self) -> None:
        """Drops everything built since the clock was set (:meth:`_built_once` and the servers'
        own entries), so the next requests, or :meth:`prerender`, build it again: a bench that
        runs the same night again starts each from the sandbox its first one found."""
        with self._build_lock, self._cache_lock:
            self._cache = {}

    def prerender(self) -> dict[str, int]:
        """What the first requests at the clock would build, built now: a bench's sandbox calls
        it after each clock change, before the sync it measures, so that the night measured is
        the sync's and not the fake API's warming up. An ad platform's: its rows as its API shows
        them at the clock (``World.ad_days_as_of``: a look through every ad-day of the world,
        ~5 s at the large bench's 5M, that each ad server's first request at a clock paid while
        the sync waited on it). What was built, counted."""
        if self.platform not in self.world.config.platforms:
            return {}
        return {"ad_days": len(self.world.ad_days_as_of(self.as_of, self.platform))}

    # --- to override -----------------------------------------------------------------
    def routes(self) -> list[Rule]:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def unauthorized_response(self, request: Request) -> Response:
        return json_response({"error": "unauthorized"}, 401)

    def fault_response(self, kind: str, request: Request) -> Response:
        """Render ``rate_limit``, ``server_error``, ``expired_token`` (and extras) the platform's way."""
        raise NotImplementedError(kind)

    def not_found_response(self, request: Request) -> Response:
        return json_response({"error": "not found", "path": request.path}, 404)

    # --- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        body: Any = None
        if request.data:
            try:
                body = json.loads(request.data)
            except ValueError:
                body = request.get_data(as_text=True)
        with self._log_lock:
            self.log.append(
                LoggedRequest(
                    request.method, request.path, dict(request.args), body, dict(request.headers)
                )
            )
        fault = self.faults.take(request.full_path)
        if fault == "slow":
            time.sleep(self.slow_seconds)
            fault = None
        if fault == "read_timeout":
            time.sleep(self.timeout_seconds)
            fault = None
        if fault == "connection_reset":
            return _drop_connection(request)
        if fault in ("gateway_429", "gateway_502", "gateway_503"):
            return gateway_page(int(fault[-3:]))
        if fault in PAGING_FAULTS:
            request.environ["sandbox.fault"] = fault
            fault = None
        if fault is not None and fault != "truncated":
            return self.fault_response(fault, request)
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        except NotFound:
            return self.not_found_response(request)
        except HTTPException as exc:
            return exc.get_response(request.environ)  # type: ignore[return-value]
        if not self.authorized(request):
            return self.unauthorized_response(request)
        response = getattr(self, endpoint)(request, **values)
        if fault == "truncated":
            data = response.get_data()
            response.set_data(data[: max(1, len(data) // 2)])
        return response

    @staticmethod
    def fault_of(request: Request) -> str | None:
        """The paging fault (:data:`PAGING_FAULTS`) this request was given, if any."""
        return request.environ.get("sandbox.fault")

    def requests_to(self, path_part: str) -> list[LoggedRequest]:
        with self._log_lock:
            return [r for r in self.log if path_part in r.path]


class _Body(io.RawIOBase):
    """One request's body on the connection's stream: at most ``length`` bytes are read from it,
    so whatever reads past the body (werkzeug's handler drains the socket after each answer)
    gets an empty read instead of the client's next request."""

    def __init__(self, stream: BinaryIO, length: int):
        self.stream, self.left = stream, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(min(len(buffer), self.left)) if self.left > 0 else b""
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class _QuietHandler(WSGIRequestHandler):
    """No per-request log line: a query string may carry a token (Meta's access_token).

    It keeps a connection open for the client's next request (HTTP/1.1 keep-alive), as the
    platforms' servers do. werkzeug's handler closes every connection after one answer: after
    the answer it reads whatever the client sent next, to discard a body the application left
    unread, which on a kept connection would swallow the next request. Here the application
    reads the request's body through :class:`_Body`, bounded by its ``Content-Length``, so
    that drain finds nothing and the next request stays on the socket. A chunked body (no
    length), a client asking for ``Connection: close`` or one speaking HTTP/1.0 still gets its
    connection closed. Closing cost a TCP connection on the client's side and an accepted
    socket and a thread on the sandbox's for every request (91,653 HubSpot requests in the
    large world's first night, bench.large_bench)."""

    #: TCP_NODELAY: on a kept connection, an answer's body written after its headers waited for
    #: the client's delayed acknowledgement (~40 ms) under Nagle's algorithm
    disable_nagle_algorithm = True

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.open_lock:  # type: ignore[attr-defined]
            self.server.open_sockets.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        with self.server.open_lock:  # type: ignore[attr-defined]
            self.server.open_sockets.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or not (length or "0").isdigit():
            self.close_connection = True
            return super().run_wsgi()
        connection = self.rfile
        self.rfile = io.BufferedReader(_Body(connection, int(length or 0)))
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return  # werkzeug's, sent with every answer: the connection stays open
        super().send_header(keyword, value)


class SandboxServer:
    """Serve a :class:`SandboxApp` over real HTTP on 127.0.0.1 (port 0 = a free port)."""

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        #: the connections being served (:class:`_QuietHandler`), ended by :meth:`stop`
        self._server.open_sockets = set()  # type: ignore[attr-defined]
        self._server.open_lock = threading.Lock()  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns in 50 ms, not 500
            name=f"sandbox-{self.app.platform}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops accepting, then ends the kept-alive connections (a client's next request on one
        finds it closed, connects again and is refused), then waits for their threads."""
        self._server.shutdown()
        with self._server.open_lock:  # type: ignore[attr-defined]
            live = list(self._server.open_sockets)  # type: ignore[attr-defined]
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client closed it already
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
