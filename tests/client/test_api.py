"""The site helper's pre-warm calls against a real HTTP server: retries, timeouts, errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ogshot_client import ApiClient, ApiError, prewarm

from tests.helpers import free_port


class Api:
    """A stand-in of the service's API that answers from a script of (status, headers)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.calls: list[tuple[str, str, dict[str, object], str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.calls.append(("POST", self.path, body, self.headers["Authorization"]))
                status, headers = api.script.pop(0) if api.script else (202, {})
                answer = {"jobs": [{"id": "j1", "url": u, "status": "queued"} for u in
                                   body["urls"]], "rejected": []} if status == 202 else {
                                   "error": f"said {status}"}  # fmt: skip
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[Api]:
    """A running stand-in API."""
    server = Api()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.server
def test_prewarm_sends_the_urls_with_the_token(api: Api) -> None:
    """prewarm() posts the URLs and options with a bearer token and returns the answer."""
    answer = prewarm(api.url, "t0k", ["https://example.com/a"], w=800)
    assert answer["jobs"][0]["url"] == "https://example.com/a"
    assert api.calls == [
        ("POST", "/api/prewarm", {"urls": ["https://example.com/a"], "w": 800}, "Bearer t0k")
    ]


@pytest.mark.server
def test_passing_failures_are_tried_again_with_growing_pauses(api: Api) -> None:
    """503 and 502 are retried after 1 s, then 2 s; a Retry-After is obeyed (capped)."""
    api.script = [(503, {}), (502, {}), (429, {"Retry-After": "7"}), (202, {})]
    pauses: list[float] = []
    client = ApiClient(api.url, "t", retries=3, sleep=pauses.append)
    assert client.prewarm(["https://example.com/a"])["jobs"]
    assert pauses == [1.0, 2.0, 7.0]
    assert len(api.calls) == 4


@pytest.mark.server
def test_retries_end_with_the_last_error(api: Api) -> None:
    """When every try meets a passing failure, the last one is raised with its reason."""
    api.script = [(503, {})] * 3
    client = ApiClient(api.url, "t", retries=2, sleep=lambda _: None)
    with pytest.raises(ApiError, match="HTTP 503: said 503") as caught:
        client.prewarm(["https://example.com/a"])
    assert caught.value.status == 503
    assert len(api.calls) == 3


@pytest.mark.server
def test_a_refusal_is_final(api: Api) -> None:
    """A 4xx other than 429 is not tried again."""
    api.script = [(401, {})]
    with pytest.raises(ApiError, match="HTTP 401"):
        ApiClient(api.url, "bad", sleep=lambda _: None).prewarm(["https://example.com/a"])
    assert len(api.calls) == 1


def test_an_unreachable_service_is_tried_then_named() -> None:
    """No server listening: every try fails to connect, and the error names the server."""
    server = f"http://127.0.0.1:{free_port()}"
    pauses: list[float] = []
    with pytest.raises(ApiError, match=f"cannot reach {server}"):
        ApiClient(server, "t", retries=2, sleep=pauses.append).prewarm(["https://e.com/"])
    assert pauses == [1.0, 2.0]


def test_only_http_servers() -> None:
    """A server that is not an http(s) URL is refused before any call."""
    with pytest.raises(ApiError, match="http"):
        ApiClient("ftp://o.example", "t")


@pytest.mark.server
def test_prewarm_sends_a_version_and_a_webhook_beside_the_options(api: Api) -> None:
    """version= and webhook_url= are fields of their own, not image options."""
    prewarm(api.url, "t0k", ["https://example.com/a"], version="2026-12-02T10:00",
            webhook_url="https://site.example/hook", format="jpg")  # fmt: skip
    assert api.calls[0][2] == {
        "urls": ["https://example.com/a"],
        "format": "jpg",
        "v": "2026-12-02T10:00",
        "webhook_url": "https://site.example/hook",
    }
