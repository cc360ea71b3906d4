"""A fast fixture server for the extraction benchmark: pre-rendered API pages served from memory
in a process of its own, so what the benchmark measures is the client (and its loading), not the
sandbox rendering pages.

    python -m bench.fixture_server pages.pickle   # prints its base URL, serves until stdin closes

``pages.pickle`` maps :func:`request_key` of a recorded request to ``(status, content type,
body)``; ``{{BASE}}`` in a body (a next-page link) becomes this server's base URL. An unknown
request is a 404 naming it, so a client asking for something else than was recorded fails.
"""

from __future__ import annotations

import json
import pickle
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

BASE = b"{{BASE}}"
#: credentials travel in the query on some APIs; they do not tell two requests apart
IGNORED_PARAMS = {"access_token"}


def request_key(method: str, url: str, body: bytes | str | None) -> tuple[str, str, str, str]:
    """What identifies a request: method, path, sorted query (credentials left out) and the
    JSON body with its keys sorted (two clients encode the same request differently)."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k not in IGNORED_PARAMS)
    text = body.decode() if isinstance(body, bytes) else (body or "")
    canon = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) if text.strip() else ""
    return method.upper(), parts.path, json.dumps(query), canon


def serve(pages_path: str) -> None:
    with open(pages_path, "rb") as fh:
        recorded: dict[tuple, tuple[int, str, bytes]] = pickle.load(fh)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connection
        #: headers and body go out as two writes: without this, Nagle's algorithm holds the body
        #: until the client's delayed ACK (~40 ms a request)
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            hit = pages.get(request_key(self.command, self.path, body))
            status, ctype, payload = hit or (404, "text/plain", f"not recorded: {self.command} {self.path}".encode())
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}".encode()
    pages = {k: (s, c, b.replace(BASE, base)) for k, (s, c, b) in recorded.items()}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(base.decode(), flush=True)
    sys.stdin.read()  # the parent closes our stdin (or exits): stop
    server.shutdown()


if __name__ == "__main__":
    serve(sys.argv[1])
