"""Servers and processes the tests and the benchmarks both start: the test page server,
throwaway Redis and S3 servers, ogshot's own processes in sessions of their own.

A tool that is not installed raises MissingTool; the tests turn that into a skip (a failure
under CI=true) by setting ``on_missing``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class MissingTool(RuntimeError):  # noqa: N818 - reads as what happened
    """A program a server needs is not installed."""


def _raise(message: str) -> None:
    raise MissingTool(message)


# What a missing tool does: raise MissingTool (the benchmarks), or skip the test.
on_missing: Callable[[str], None] = _raise


def require(binary: str) -> str:
    """Return the path of ``binary``; without it, ``on_missing``."""
    path = shutil.which(binary)
    if path is None:
        on_missing(f"{binary} is not installed")
        raise MissingTool(f"{binary} is not installed")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout: float = 30, proc: subprocess.Popen | None = None
) -> None:
    """Block until something accepts connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process started with start_new_session, and everything it started."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    # Browsers started by a worker live in its process group: make sure none survives.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
  html, body {{ margin: 0; height: 100%; background: #{bg}; }}
  .tl {{ position: fixed; left: 0; top: 0; width: 100px; height: 100px; background: #0000ff; }}
  .br {{ position: fixed; right: 0; bottom: 0; width: 100px; height: 100px; background: #00ff00; }}
</style></head>
<body><div class="tl"></div><div class="br"></div></body></html>
"""


# Types of /files/<name> by extension (others are served as HTML).
CONTENT_TYPES = {
    "png": "image/png",
    "css": "text/css",
    "js": "text/javascript",
    "json": "application/json",
    "woff2": "font/woff2",
}

# Pages on the allowed origin that try to reach ``target`` (the canary) from the browser.
ATTACKS = {
    "img": '<img src="{target}">',
    "iframe": '<iframe src="{target}"></iframe>',
    "script": '<script src="{target}"></script>',
    "css": '<link rel="stylesheet" href="{target}">',
    "fetch": '<script>fetch("{target}").catch(() => 0)</script>',
    "xhr": '<script>const x = new XMLHttpRequest(); x.open("GET", "{target}"); x.send()</script>',
    "beacon": '<script>navigator.sendBeacon("{target}", "x")</script>',
    "navigate": '<script>location.href = "{target}"</script>',
    "refresh": '<meta http-equiv="refresh" content="0;url={target}">',
    "form": '<form id="f" action="{target}" method="post"></form><script>f.submit()</script>',
    "websocket": '<script>try {{ new WebSocket("{ws}") }} catch (e) {{}}</script>',
    "prefetch": '<link rel="prefetch" href="{target}"><link rel="preconnect" href="{target}">'
    '<link rel="dns-prefetch" href="{target}">',
    "worker": '<script>try {{ new Worker("{target}") }} catch (e) {{}}</script>',
    "font": '<style>@font-face {{ font-family: x; src: url("{target}") }}'
    " body {{ font-family: x }}</style>",
    "video": '<video src="{target}" autoplay></video>',
    "window": '<script>window.open("{target}")</script>',
}


class PageServer:
    """Serves test pages on a loopback address and counts every request by path.

    ``/page/<name>?bg=rrggbb&delay=s``: a page of colour ``bg`` with a blue square at the
    top left and a green one at the bottom right (each 100x100 CSS px), after ``delay`` s.
    ``/live/<name>``: the same page in the colour ``colours[name]`` has now (a page whose
    content changes). ``/files/<name>?delay=s``: ``files[name]``, typed by its extension
    (``&cache=1``: cacheable for an hour, where everything else is ``no-store``), with the
    status ``statuses[name]`` if set.
    ``/status/<code>``: an error page with that status. Else: 404.
    """

    def __init__(self, host: str = "127.0.0.1", tls: bool = False) -> None:
        self.hits: Counter[str] = Counter()
        self.colours: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.statuses: dict[str, int] = {}
        self.agents: dict[str, str] = {}  # the last User-Agent each path was asked with
        self.inflight: Counter[str] = Counter()
        self.max_inflight: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server._lock:
                    server.hits[parts.path] += 1
                    server.agents[parts.path] = self.headers.get("User-Agent", "")
                    server.inflight[parts.path] += 1
                    server.max_inflight[parts.path] = max(
                        server.max_inflight[parts.path], server.inflight[parts.path]
                    )
                try:
                    self._route(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
                finally:
                    with server._lock:
                        server.inflight[parts.path] -= 1

            def _route(self, path: str, query: dict[str, str]) -> None:
                if path.startswith("/page/"):
                    time.sleep(float(query.get("delay", "0")))
                    body = PAGE.format(title=path, bg=query.get("bg", "ff0000")).encode()
                    self._answer(200, body)
                elif path.startswith("/live/"):
                    colour = server.colours.get(path.split("/")[2], "ff0000")
                    time.sleep(float(query.get("delay", "0")))
                    self._answer(200, PAGE.format(title=path, bg=colour).encode())
                elif path.startswith("/attack/"):
                    self._attack(path.split("/")[2], query.get("target", ""))
                elif path.startswith("/hops/"):
                    left = int(path.split("/")[2])
                    target = f"/hops/{left - 1}" if left > 0 else "/page/after-hops"
                    self._answer(302, b"", {"Location": target})
                elif path == "/hog":
                    # Allocates ~400 MB/s for as long as it lives; the slow image keeps the
                    # page from ever finishing loading.
                    hog = ("<script>const hog = []; setInterval(() => { for (let i = 0; i < 4;"
                           " i++) hog.push(new Uint8Array(1 << 20).fill(7)); }, 10);</script>"
                           '<img src="/page/hog-wait?delay=30">')  # fmt: skip
                    self._answer(200, PAGE.format(title="hog", bg="ff0000").replace(
                        "<body>", "<body>" + hog).encode())  # fmt: skip
                elif path == "/endless":
                    script = "<script>while (true) {}</script>"
                    self._answer(200, PAGE.format(title="endless", bg="ff0000").replace(
                        "<body>", "<body>" + script).encode())  # fmt: skip
                elif path.startswith("/big/"):
                    megabytes = int(path.split("/")[2])
                    filler = "<!--" + "x" * (megabytes * 1024 * 1024) + "-->"
                    self._answer(
                        200, PAGE.format(title="big", bg="ff0000").encode() + filler.encode()
                    )
                elif path.startswith("/files/"):
                    time.sleep(float(query.get("delay", "0")))
                    name = path.split("/", 2)[2]
                    data = server.files.get(name)
                    kind = CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "text/html; charset=utf-8")
                    headers = {"Content-Type": kind} if data else {}
                    if "cache" in query:  # a file the browser may keep for an hour
                        headers["Cache-Control"] = "max-age=3600"
                    status = server.statuses.get(name, 200) if data else 404
                    self._answer(status, data or b"not found", headers)
                elif path.startswith("/status/"):
                    self._answer(int(path.rsplit("/", 1)[1]), b"<h1>error</h1>")
                else:
                    self._answer(404, b"not found")

            def _attack(self, kind: str, target: str) -> None:
                if kind == "redirect":
                    self._answer(302, b"", {"Location": target})
                    return
                ws = "ws" + target[4:] if target.startswith("http") else target
                html = ATTACKS[kind].format(target=target, ws=ws)
                self._answer(200, PAGE.format(title=kind, bg="ff0000").replace(
                    "</body>", html + "</body>").encode())  # fmt: skip

            def _answer(
                self, status: int, body: bytes, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                extra = {"Content-Type": "text/html; charset=utf-8", **(extra or {})}
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                if "Cache-Control" not in extra:
                    self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls:
            # The handshake happens in the request's thread, not in the accepting one.
            self.httpd.socket = self_signed(host).wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def thread_id(self) -> int:
        """The serving thread's kernel id (its request threads are started from it)."""
        native = self._thread.native_id
        assert native is not None
        return native

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def count(self, path: str) -> int:
        """Return how many requests ``path`` received."""
        with self._lock:
            return self.hits[path]

    def total(self) -> int:
        """Return how many requests the server received in all."""
        with self._lock:
            return sum(self.hits.values())

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed(host: str) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for the IP address ``host``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="ogshot-tls-") as directory:
        path = Path(directory) / "server.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + cert.public_bytes(serialization.Encoding.PEM)
        )
        context.load_cert_chain(path)
    return context


# Settings under which ogshot renders the test pages served on 127.0.0.1.
LOCAL_PAGES = {"OGSHOT_ALLOWED_HOSTS": "127.0.0.1", "OGSHOT_ALLOW_PRIVATE_NETWORKS": "127.0.0.1/32"}
# Several workers run at once in the tests: none takes the fixed default metrics port.
NO_WORKER_METRICS = {"OGSHOT_WORKER_METRICS_PORT": "0"}


def ogshot_env(**settings: str) -> dict[str, str]:
    """This environment plus LOCAL_PAGES plus ``settings``, for an ogshot subprocess."""
    return {**os.environ, **LOCAL_PAGES, **NO_WORKER_METRICS, **settings}


def start(
    argv: list[str],
    env: dict[str, str] | None = None,
    log: Path | None = None,
    **popen: object,
) -> subprocess.Popen:
    """Start a process in its own session (so stop_process ends its children too).

    ``popen`` passes more of Popen's arguments (``cwd``, ``user``...).
    """
    with open(log or os.devnull, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )


@contextlib.contextmanager
def serving(
    argv: list[str], port: int, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run a server until the block ends, once it listens on ``port``."""
    proc = start(argv, env, log)
    try:
        wait_for_port("127.0.0.1", port, proc=proc)
        yield proc
    finally:
        stop_process(proc)


def redis_argv(port: int) -> list[str]:
    """A throwaway redis-server on ``port``: no persistence, loopback only."""
    return [require("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no"]  # fmt: skip


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Run a throwaway redis-server; yield its base URL (no database number)."""
    port = free_port()
    with serving(redis_argv(port), port):
        yield f"redis://127.0.0.1:{port}"


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """Run moto's S3 server as a real HTTP server; yield its endpoint URL."""
    port = free_port()
    with serving([require("moto_server"), "-H", "127.0.0.1", "-p", str(port)], port):
        yield f"http://127.0.0.1:{port}"
