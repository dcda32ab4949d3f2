"""The egress guard: a forward proxy on 127.0.0.1 that every browser request goes through.

Checking the page URL before queueing is not enough: a page can redirect, embed, fetch or
navigate anywhere, and a name can resolve differently a second later. The guard resolves each
host itself, applies the URL policy's address rules (public addresses only, plus
OGSHOT_ALLOW_PRIVATE_NETWORKS; ports from OGSHOT_ALLOWED_PORTS), and connects to the very
address it checked, so there is no window for DNS rebinding. HTTPS passes through CONNECT
without interception. It also counts what a render pulls and stops it past its limits.

Hand-written rather than a proxy library: it is small, has no dependency, and the tests in
tests/worker/test_egress.py and tests/e2e/test_ssrf.py exercise it against a canary server.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.urlpolicy import (
    InvalidURL,
    RefusedURL,
    Resolver,
    UrlPolicy,
    normalize_host,
    resolve_host,
)

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10
IDLE_TIMEOUT = 30
_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
                "trailer", "upgrade"}  # fmt: skip


@dataclass
class Session:
    """What one render pulled through the guard, and the first limit it broke."""

    max_bytes: int
    max_requests: int
    requests: int = 0
    bytes: int = 0
    redirects: int = 0
    blocked: list[str] = field(default_factory=list)
    exceeded: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self) -> bool:
        """Count a request; False once past the limit."""
        with self._lock:
            self.requests += 1
            if self.requests > self.max_requests and not self.exceeded:
                self.exceeded = f"the page made more than {self.max_requests} requests"
            return self.requests <= self.max_requests

    def count_bytes(self, amount: int) -> bool:
        """Count bytes received from origins; False once past the limit."""
        with self._lock:
            self.bytes += amount
            if self.bytes > self.max_bytes and not self.exceeded:
                self.exceeded = f"the page pulled more than {self.max_bytes} bytes"
            return self.bytes <= self.max_bytes

    def count_redirect(self) -> None:
        """Count a redirect answered to a page navigation."""
        with self._lock:
            self.redirects += 1
            if self.redirects > MAX_REDIRECTS and not self.exceeded:
                self.exceeded = f"the page redirected more than {MAX_REDIRECTS} times"

    def block(self, what: str) -> None:
        """Remember a refused request."""
        with self._lock:
            self.blocked.append(what)


def _split_authority(authority: str) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = authority.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidURL(f"bad CONNECT target {authority!r}")
    return host, int(port)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    timeout = IDLE_TIMEOUT

    def handle(self) -> None:
        guard = self.server.guard
        session = guard.session
        try:
            request_line = self.rfile.readline(8192).decode("latin-1").strip()
            method, target, _version = request_line.split(" ", 2)
            headers = self._read_headers()
        except (ValueError, OSError):
            return
        if not session.count_request():
            self._refuse(403, session.exceeded or "request limit")
            return
        try:
            if method.upper() == "CONNECT":
                host, port = _split_authority(target)
            else:
                parts = urlsplit(target)
                if parts.scheme.lower() != "http" or not parts.hostname:
                    raise RefusedURL(f"only http(s) may be fetched, not {target[:80]!r}")
                host, port = parts.hostname, parts.port or 80
            address = guard.check(host, port)
        except (RefusedURL, InvalidURL, ValueError) as exc:
            session.block(f"{method} {target[:200]}: {exc}")
            log.info("egress refused %s %s: %s", method, target[:200], exc)
            self._refuse(403, str(exc))
            return
        try:
            upstream = socket.create_connection((address, port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            self._refuse(502, f"cannot connect to {host}:{port}: {exc}")
            return
        with upstream:
            if method.upper() == "CONNECT":
                self.wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                self._relay(upstream, session)
            else:
                self._forward(method, target, headers, upstream, session)

    def _read_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        size = 0
        while True:
            line = self.rfile.readline(8192)
            size += len(line)
            if size > MAX_HEADER_BYTES:
                raise ValueError("headers too large")
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))

    def _refuse(self, status: int, reason: str) -> None:
        body = f"ogshot egress guard: {reason}\n".encode()
        head = (f"HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        with contextlib.suppress(OSError):
            self.wfile.write(head.encode() + body)

    def _forward(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        upstream: socket.socket,
        session: Session,
    ) -> None:
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [(n, v) for n, v in headers if n.lower() not in _HOP_HEADERS]
        # One request per connection keeps the relay simple; browsers open another.
        lines = [f"{method} {path} HTTP/1.1", *(f"{n}: {v}" for n, v in kept), "Connection: close"]
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
        if length:
            upstream.sendall(self.rfile.read(length))
        navigating = any(n.lower() == "accept" and v.startswith("text/html") for n, v in headers)
        first = upstream.recv(65536)
        if navigating and first[9:10] == b"3" and b"\nlocation:" in first.lower():
            session.count_redirect()
        if first and session.count_bytes(len(first)):
            self.wfile.write(first)
            self._relay(upstream, session, one_way=True)

    def _relay(self, upstream: socket.socket, session: Session, one_way: bool = False) -> None:
        client = self.connection
        sockets = [upstream] if one_way else [client, upstream]
        while True:
            readable, _, _ = select.select(sockets, [], [], IDLE_TIMEOUT)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is upstream:
                    if not session.count_bytes(len(data)):
                        return  # past the byte limit: cut the page off
                    client.sendall(data)
                else:
                    upstream.sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    guard: EgressGuard


class EgressGuard:
    """A running guard on 127.0.0.1:port, with the counters of the current render."""

    def __init__(
        self,
        policy: UrlPolicy,
        max_bytes: int,
        max_requests: int,
        resolve: Resolver = resolve_host,
    ) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self.max_requests = max_requests
        self.resolve = resolve
        self.session = Session(max_bytes, max_requests)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.guard = self
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, name="ogshot-egress", daemon=True
        ).start()

    def new_session(self) -> Session:
        """Start counting a new render (the previous one's leftovers count no more)."""
        self.session = Session(self.max_bytes, self.max_requests)
        return self.session

    def check(self, host: str, port: int) -> str:
        """Return the address to connect to for host:port, or raise RefusedURL."""
        normalized = normalize_host(host)
        return str(self.policy.allowed_addresses(normalized, port, self.resolve)[0])

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()


class GuardPool:
    """Egress guards for renders that run at once: one for the browser's own traffic and,
    when ``slots`` exceeds 1, one more per render slot, so that each render's requests are
    counted and limited apart (each render's user context sends them to its own guard)."""

    def __init__(
        self, policy: UrlPolicy, max_bytes: int, max_requests: int, slots: int = 1
    ) -> None:
        count = 1 if slots <= 1 else slots + 1
        self.guards = [EgressGuard(policy, max_bytes, max_requests) for _ in range(count)]
        # Handed out last in, first out: renders one at a time keep to one guard, so the
        # spare context the engine opened behind it (a user context's proxy is fixed) is
        # the one the next render takes. First in, first out, lone renders went round the
        # guards, most found no spare behind theirs and paid for opening one.
        self._free = list(reversed(self.guards[1:] or self.guards))
        self._returned = threading.Condition()

    @property
    def port(self) -> int:
        """The port the browser itself is started behind."""
        return self.guards[0].port

    @contextlib.contextmanager
    def take(self) -> Iterator[EgressGuard]:
        """A guard no other render holds, until the render is done (blocks while all are
        held: there are as many as renders may run at once)."""
        with self._returned:
            self._returned.wait_for(lambda: self._free)
            guard = self._free.pop()
        try:
            yield guard
        finally:
            with self._returned:
                self._free.append(guard)
                self._returned.notify()

    def close(self) -> None:
        """Stop every guard, all at once: each waits out its server's half-second poll,
        one after another 4.5 s for a worker of 8 renders per browser (16.5 s for 32)."""
        closing = [threading.Thread(target=guard.close) for guard in self.guards]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()
