"""ApiClient's urllib3 transport (sources/http.py) against a small server over real HTTP on
127.0.0.1: what it took over from requests (params encoding, redirects, gzip, errors as
requests' types) and the one behaviour that changed: a body cut short by the connection closing
is a ``requests.ConnectionError`` (retried) where requests raised ChunkedEncodingError (not)."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from revops.sources.errors import is_transient
from revops.sources.http import ApiClient

SECRET = "s3cret-token-in-a-query"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: requests seen: (method, request target, headers, body)
    seen: list[tuple[str, str, dict[str, str], bytes]] = []
    #: how many more /flaky requests get a body cut short
    cut_short = 0

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, dict(self.headers), body))
        path = self.path.split("?")[0]
        if path.startswith("/redirect/"):
            status, location = int(path.split("/")[2]), self.headers["X-Target"]
            self._send(status, b"", {"Location": location})
        elif path == "/gzip":
            self._send(200, gzip.compress(b'{"ok": true}'), {"Content-Encoding": "gzip"})
        elif path == "/flaky" and Handler.cut_short > 0:
            Handler.cut_short -= 1
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"da')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self._send(200, b'{"ok": true}', {"Content-Type": "application/json; charset=utf-8"})

    do_GET = do_POST = do_HEAD = _answer

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def seen() -> list:
    Handler.seen.clear()
    return Handler.seen


def test_params_and_form_data_go_out_as_requests_sent_them(server, seen):
    base = f"http://127.0.0.1:{server}"
    params = {"fields": "ad_id,spend", "time_range": '{"since":"2025-01-01","until":"2025-01-31"}',
              "q": "SELECT Id FROM User WHERE Name = 'a b'", "skip": None, "ids": ["1", "2"]}
    form = {"grant_type": "refresh_token", "refresh_token": "a/b+c=d"}
    ApiClient(base).transport("GET", f"{base}/p?x=1", params=params)
    ApiClient(base).transport("POST", f"{base}/token", data=form)
    requests.get(f"{base}/p?x=1", params=params, timeout=5)
    requests.post(f"{base}/token", data=form, timeout=5)
    (get_new, post_new, get_old, post_old) = seen
    assert get_new[1] == get_old[1]  # the request target, byte for byte
    assert post_new[3] == post_old[3]
    assert post_new[2]["Content-Type"] == "application/x-www-form-urlencoded"
    # requests' default headers travel as before
    for name in ("Accept", "Accept-Encoding", "Connection"):
        assert get_new[2][name] == get_old[2][name]


def test_response_is_a_requests_response(server, seen):
    base = f"http://127.0.0.1:{server}"
    response = ApiClient(base).transport("GET", f"{base}/ok", headers={"Authorization": "Bearer t"})
    assert isinstance(response, requests.Response)
    assert response.status_code == 200 and response.reason == "OK"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.encoding == "utf-8" and response.json() == {"ok": True} and response.text
    assert response.url == f"{base}/ok" and response.request.method == "GET"
    assert ApiClient(base).transport("GET", f"{base}/gzip").content == b'{"ok": true}'


@pytest.mark.parametrize(("status", "method", "after"), [
    (302, "GET", "GET"), (301, "POST", "GET"), (303, "POST", "GET"), (307, "POST", "POST"),
])
def test_redirects_are_followed_as_requests_follows_them(server, seen, status, method, after):
    base = f"http://127.0.0.1:{server}"
    response = ApiClient(base).transport(
        method, f"{base}/redirect/{status}", data=b'{"a": 1}',
        headers={"X-Target": "/landed", "Authorization": "Bearer t", "Content-Type": "application/json"})
    assert response.status_code == 200 and response.url == f"{base}/landed"
    (_, first, _, _), (sent_method, target, headers, body) = seen
    assert target == "/landed" and sent_method == after
    assert headers["Authorization"] == "Bearer t"  # same host: kept
    assert body == (b'{"a": 1}' if status == 307 else b"")


def test_a_redirect_to_another_host_drops_the_credential(server, seen):
    response = ApiClient(f"http://127.0.0.1:{server}").transport(
        "GET", f"http://127.0.0.1:{server}/redirect/302",
        headers={"X-Target": f"http://localhost:{server}/landed", "Authorization": "Bearer t"})
    assert response.status_code == 200
    assert "Authorization" not in seen[-1][2] and seen[-1][1] == "/landed"


def test_a_body_cut_short_is_a_connection_error_and_retried(server, seen):
    base = f"http://127.0.0.1:{server}"
    client = ApiClient(base, max_backoff=0.01)
    Handler.cut_short = 1
    with pytest.raises(requests.ConnectionError) as caught:
        client.transport("GET", f"{base}/flaky")
    assert is_transient(caught.value)
    Handler.cut_short = 1
    assert client.get_json("/flaky") == {"ok": True}
    assert client.stats == {"requests": 2, "retries": 1, "auth_refreshes": 0}


def test_connection_errors_keep_the_query_out_of_the_message():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ApiClient(f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(requests.ConnectionError) as caught:
        client.request("GET", "/x", params={"access_token": SECRET})
    assert is_transient(caught.value) and SECRET not in str(caught.value)
