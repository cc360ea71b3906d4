"""A fast fixture server for the extraction benchmark: pre-rendered API pages served from memory
in a process of its own, so what the benchmark measures is the client (and its loading), not the
sandbox rendering pages.

    python -m bench.fixture_server pages.pickle   # prints its base URL, serves until stdin closes

``pages.pickle`` maps :func:`request_key` of a recorded request to ``(status, content type,
body)``; ``{{BASE}}`` in a body (a next-page link) becomes this server's base URL. An unknown
request is a 404 naming it, so a client asking for something else than was recorded fails.

It speaks just enough HTTP/1.1 for the clients measured (requests-based: a request line,
headers, a ``Content-Length`` body; keep-alive), on asyncio in one thread, and answers a request
seen before from a dictionary of its raw bytes. ``http.server`` took ~0.5 ms a request (header
parsing through ``email``, a thread per connection): with 445 requests a run, a fifth of the
project's time was spent waiting for the fixture, not in the client.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sys
from urllib.parse import parse_qsl, urlsplit

BASE = b"{{BASE}}"
#: credentials travel in the query on some APIs; they do not tell two requests apart
IGNORED_PARAMS = {"access_token"}
REASONS = {200: b"OK", 404: b"Not Found"}


def request_key(method: str, url: str, body: bytes | str | None) -> tuple[str, str, str, str]:
    """What identifies a request: method, path, sorted query (credentials left out) and the
    JSON body with its keys sorted (two clients encode the same request differently)."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k not in IGNORED_PARAMS)
    text = body.decode() if isinstance(body, bytes) else (body or "")
    canon = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) if text.strip() else ""
    return method.upper(), parts.path, json.dumps(query), canon


def response(status: int, ctype: str, payload: bytes) -> bytes:
    head = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (status, REASONS.get(status, b"?"), ctype.encode(), len(payload)))
    return head + payload


async def serve(pages_path: str) -> None:
    with open(pages_path, "rb") as fh:
        recorded: dict[tuple, tuple[int, str, bytes]] = pickle.load(fh)
    pages: dict[tuple, bytes] = {}
    #: (method, target, body) as the client sent them -> the whole response
    answers: dict[tuple[bytes, bytes, bytes], bytes] = {}

    def answer(method: bytes, target: bytes, body: bytes) -> bytes:
        raw = (method, target, body)
        if raw not in answers:
            key = request_key(method.decode(), target.decode(), body)
            answers[raw] = pages.get(key) or response(
                404, "text/plain", f"not recorded: {method.decode()} {target.decode()}".encode())
        return answers[raw]

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, target, _ = lines[0].split(b" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                writer.write(answer(method, target, body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, or the server is stopping
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0, limit=1 << 20)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}".encode()
    pages.update({k: response(s, c, b.replace(BASE, base)) for k, (s, c, b) in recorded.items()})
    print(base.decode(), flush=True)
    # the parent closes our stdin (or exits): stop
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
