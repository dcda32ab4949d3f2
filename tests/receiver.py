"""A real HTTP server on 127.0.0.1 that receives webhooks and answers as a test scripts it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = -1  # an answer that never comes: the request is held until the server closes


@dataclass(frozen=True)
class Call:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each POST with the next status scripted for its path (200 when none is)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script: dict[str, list[int]] = {}
        self._closing = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path
                with receiver._lock:
                    receiver.calls.append(Call(path, dict(self.headers.items()), body))
                    answers = receiver.script.get(path.split("?")[0], [])
                    status = answers.pop(0) if len(answers) > 1 else (answers or [200])[0]
                if status == HANG:
                    receiver._closing.wait(120)
                    return
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/moved-here")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int) -> str:
        """Script the answers to ``path`` (the last one repeats); return its URL."""
        self.script[path] = list(statuses)
        return self.url(path)

    def to(self, path: str) -> list[Call]:
        """The calls made to ``path`` so far."""
        with self._lock:
            return [call for call in self.calls if call.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 60) -> list[Call]:
        """Wait until ``path`` got ``count`` calls; return them."""
        deadline = time.monotonic() + timeout
        while len(calls := self.to(path)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} got {len(calls)} calls, not {count}, in {timeout} s")
            time.sleep(0.05)
        return calls

    def close(self) -> None:
        """Stop serving (held requests are let go)."""
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


def receiving() -> Iterator[Receiver]:
    """A fixture body: a receiver for the test, closed after it."""
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()
