"""What one browser's WebDriver BiDi user contexts give concurrent renders, checked in both
browsers before the engines build on it (issue 27): each user context sends all its traffic
(the page, what it loads, the favicon, loopback addresses too) through a proxy of its own,
so the egress guard can count and refuse each render's traffic apart.

Firefox ESR speaks BiDi itself (``--remote-debugging-port``, no geckodriver); Chromium through
chromedriver (Selenium's ``enable_bidi``). Both take the very same commands.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.websocket_connection import WebSocketConnection

from tests.helpers import BINARIES, free_port, require, stop_process, wait_for_port

pytestmark = [pytest.mark.browser, pytest.mark.server]
Send = Callable[[str, dict[str, Any]], dict[str, Any]]


class Proxy:
    """An HTTP proxy that answers every request itself, saying which proxy it is."""

    def __init__(self, name: str) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.path)
                body = f"<h1>via {name}</h1><img src='/image-{name}.png'>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop answering."""
        self.server.shutdown()
        self.server.server_close()


# BiDi alone; loopback addresses go through a proxy only when the profile lets them.
USER_JS = """user_pref("remote.active-protocols", 1);
user_pref("network.proxy.allow_hijacking_localhost", true);
"""


@pytest.fixture(scope="module")
def firefox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Send]:
    """A headless Firefox ESR driven over its own BiDi endpoint."""
    binary = require(BINARIES["firefox"][0])
    tmp_path = tmp_path_factory.mktemp("profile")
    (tmp_path / "user.js").write_text(USER_JS)
    port = free_port()
    argv = [binary, "--headless", f"--remote-debugging-port={port}", "--profile",
            str(tmp_path), "--no-remote"]  # fmt: skip
    browser = subprocess.Popen(
        argv,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # nothing of it in the shared /tmp
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, proc=browser)
        time.sleep(0.5)  # the port listens a moment before the session endpoint answers
        connection = WebSocketConnection(f"ws://127.0.0.1:{port}/session", 30, 0.05)
        assert "result" in connection.send_cmd("session.new", {"capabilities": {}})
        yield connection.send_cmd
        connection.send_cmd("browser.close", {})  # quicker than a signal
        connection.close()
    finally:
        stop_process(browser)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Send]:
    """A headless Chromium driven over chromedriver's BiDi connection."""
    binary, driver_binary = (require(name) for name in BINARIES["chromium"])
    tmp_path = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(argument)
    options.binary_location = binary
    options.enable_bidi = True
    # Its temporary files in the test's own directory, not the shared /tmp.
    service = Service(driver_binary, env={**os.environ, "TMPDIR": str(tmp_path)})
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver._start_bidi()
        yield driver._websocket_connection.send_cmd
    finally:
        driver.quit()


@pytest.mark.parametrize("engine", ["firefox", "chromium"])
@pytest.mark.parametrize("host", ["example.test", "127.0.0.1:18999"])
def test_each_user_context_goes_through_its_own_proxy(
    request: pytest.FixtureRequest, engine: str, host: str
) -> None:
    """Two user contexts, two proxies, two pages loading at once: every request of each
    page reaches its own context's proxy and no other (a made-up host, and a loopback port
    nothing listens on: both reach the page only through the proxy)."""
    send: Send = request.getfixturevalue(engine)
    proxies = {name: Proxy(name) for name in ("A", "B")}
    try:
        contexts = {}
        for name, proxy in proxies.items():
            # Chromium bypasses any proxy for loopback unless told not to; Firefox ignores it.
            settings = {"proxyType": "manual", "httpProxy": proxy.address,
                        "sslProxy": proxy.address, "noProxy": ["<-loopback>"]}  # fmt: skip
            made = send("browser.createUserContext", {"proxy": settings})
            user_context = made["result"]["userContext"]
            window = send("browsingContext.create", {"type": "window", "userContext": user_context})
            contexts[name] = window["result"]["context"]
        texts: dict[str, str] = {}

        def load(name: str) -> None:
            target = {"context": contexts[name]}
            send("browsingContext.navigate",
                 {**target, "url": f"http://{host}/page-{name}", "wait": "complete"})  # fmt: skip
            answer = send("script.evaluate", {"expression": "document.body.innerText",
                                              "target": target, "awaitPromise": False})  # fmt: skip
            texts[name] = answer["result"]["result"]["value"]

        loading = [threading.Thread(target=load, args=(name,)) for name in contexts]
        for thread in loading:
            thread.start()
        for thread in loading:
            thread.join(60)
        assert texts == {"A": "via A", "B": "via B"}
        deadline = time.monotonic() + 5
        while not all(f"http://{host}/image-{n}.png" in proxies[n].seen for n in proxies):
            assert time.monotonic() < deadline, {n: p.seen for n, p in proxies.items()}
            time.sleep(0.1)
        for name, proxy in proxies.items():
            named = [path for path in proxy.seen if "page-" in path or "image-" in path]
            assert all(path.endswith((f"page-{name}", f"image-{name}.png")) for path in named), (
                proxy.seen
            )
    finally:
        for proxy in proxies.values():
            proxy.close()
