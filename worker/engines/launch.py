"""Starting each browser for WebDriver BiDi (worker/engines/contexts.py renders in it):
Firefox ESR on its own remote-debugging port (no geckodriver), Chromium through Debian's
chromedriver. What each does its own way stays here: the launch, the proxy of a user
context, prefers-color-scheme."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from urllib3.exceptions import HTTPError

from worker.engines import BrowserError, EngineOptions, RenderTimeout, user_agent
from worker.engines.bidi import CommandError, CommandTimeout, Connection, argument, python
from worker.engines.chromium import (
    CHROMEDRIVER,
    CHROMIUM_BINARY,
    MAX_TMPDIR_LENGTH,
    NOWHERE,
    chrome_options,
)
from worker.engines.contexts import COMMAND_SECONDS, Browser, ContextEngine
from worker.engines.firefox import FIREFOX_BINARY, PREFS, SNAPSHOT_FUNCTION, proxy_prefs

# Firefox's own prefs for BiDi renders: the protocol alone, and what renders in contexts of
# their own need of the browser-wide settings of the Marionette engine.
FIREFOX_PREFS = {
    **{name: value for name, value in PREFS.items() if name != "fission.autostart"},
    "remote.active-protocols": 1,
    # Each site in a content process of its own (site isolation, Firefox's default): a page
    # that hangs or loops holds its own process, never a concurrent render's.
    "fission.autostart": True,
    # A user context's proxy (the egress guard of its render) takes loopback addresses too.
    "network.proxy.allow_hijacking_localhost": True,
}
# A box of the document (the viewport where it is, or an element's), drawn by the page's own
# drawSnapshot in the parent process as the Marionette engine draws it (SNAPSHOT_FUNCTION).
_CAPTURE_FUNCTION = f"""(id, ...box) => {{
  const {{NavigableManager}} = ChromeUtils.importESModule(
    'chrome://remote/content/shared/NavigableManager.sys.mjs');
  const page = NavigableManager.getBrowsingContextById(id).currentWindowGlobal;
  return ({SNAPSHOT_FUNCTION})(page, ...box);
}}"""
_SCHEME_PREF = "layout.css.prefers-color-scheme.content-override"
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://[\w.:\[\]-]+)")
START_SECONDS = 60


def _pref_line(name: str, value: object) -> str:
    return f"user_pref({json.dumps(name)}, {json.dumps(value)});"


def _own_dir(name: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f"ogshot-{name}-"))
    except OSError as exc:
        raise BrowserError(f"{name} did not start: no temporary directory: {exc}") from exc


class FirefoxBrowser(Browser):
    """Firefox ESR speaking BiDi itself."""

    name = "firefox"
    # Site isolation keys content processes by site and user context: each render's page
    # would otherwise start one while the render waits.
    warms_site = True

    def __init__(self, options: EngineOptions, proxy_port: int | None, binary: str) -> None:
        self._dir = _own_dir("firefox")
        profile = self._dir / "profile"
        profile.mkdir()
        prefs = {**FIREFOX_PREFS, **(proxy_prefs(proxy_port) if proxy_port else {})}
        lines = [_pref_line(name, value) for name, value in prefs.items()]
        (profile / "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, "TMPDIR": str(self._dir), "MOZ_HEADLESS_WIDTH": "5000",
               "MOZ_HEADLESS_HEIGHT": "5000", "MOZ_REMOTE_SETTINGS_DEVTOOLS": "1"}  # fmt: skip
        argv = [binary, "--headless", "--remote-debugging-port=0", "--no-remote",
                # The chrome scope, for the one browser-wide setting (scheme).
                "--remote-allow-system-access", "--profile", str(profile)]  # fmt: skip
        self._log = self._dir / "firefox.log"
        try:
            self._process: subprocess.Popen[str] | None = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise BrowserError(f"firefox did not start: {exc}") from exc
        self._dark = False
        self._scheme = threading.Condition()
        self._in_flight = 0
        self._waiting = {False: 0, True: 0}  # renders waiting for their scheme, by dark
        try:
            url = self._listening(self._process.stderr)
            connection = Connection(f"{url}/session", START_SECONDS)
            capabilities = {"acceptInsecureCerts": options.insecure_certs,
                            "unhandledPromptBehavior": {"default": "dismiss"}}  # fmt: skip
            made = connection.call("session.new", {"capabilities": {"alwaysMatch": capabilities}})
            agent = user_agent(str(made["capabilities"]["userAgent"]))
            connection.call("emulation.setUserAgentOverride", {"userAgent": agent})
            tree = connection.call("browsingContext.getTree", {"moz:scope": "chrome"})
            self._chrome = str(tree["contexts"][0]["context"])
        except (BrowserError, CommandError, CommandTimeout, WebDriverException, KeyError) as exc:
            self.close()
            raise BrowserError(f"firefox did not start: {exc}{self._said()}") from exc
        super().__init__(connection, options, proxy_port)

    def _listening(self, stderr: IO[str] | None) -> str:
        """The BiDi address Firefox prints once it listens; the rest of what it says goes to
        its log, read on in a thread of its own so that it never blocks on a full pipe."""
        found: list[str] = []
        ready = threading.Event()

        def read() -> None:
            if stderr is None:
                return
            with stderr, open(self._log, "a", encoding="utf-8", errors="replace") as log:
                for line in stderr:
                    if not found and (match := _LISTENING.search(line)):
                        found.append(match.group(1))
                        ready.set()
                    log.write(line)
                    log.flush()
            ready.set()

        threading.Thread(target=read, daemon=True, name="firefox-stderr").start()
        if not ready.wait(START_SECONDS) or not found:
            raise BrowserError("it never said where its BiDi endpoint listens")
        return found[0]

    def _said(self) -> str:
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            return ""
        return f" (firefox said: {' | '.join(lines)[:300]})" if lines else ""

    @contextlib.contextmanager
    def scheme(self, context: str, dark: bool) -> Iterator[None]:
        # Firefox has prefers-color-scheme only browser-wide (its BiDi has no emulation of
        # it, and a browsing context's own override is lost when a navigation replaces
        # it): renders of the other scheme wait until those in flight are done, so that
        # the setting never changes under a render. Turn about: while one of the other
        # scheme waits, no more of this one start (a steady stream of light renders would
        # otherwise keep a dark one waiting for ever).
        def turn() -> bool:
            if self._dark == dark:
                return not self._waiting[not dark]
            return self._in_flight == 0

        with self._scheme:
            self._waiting[dark] += 1
            try:
                # Bounded all the same: a render never waits longer than its own time.
                if not self._scheme.wait_for(turn, self.options.render_timeout):
                    raise RenderTimeout("waited too long for the other colour scheme's renders")
            finally:
                self._waiting[dark] -= 1
                self._scheme.notify_all()  # those that wait on this count look again
            if self._dark != dark:
                self._set_scheme(dark)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._scheme:
                self._in_flight -= 1
                self._scheme.notify_all()

    def _set_scheme(self, dark: bool) -> None:
        # 0: dark, 2: the browser's own (light when headless).
        declaration = f"() => Services.prefs.setIntPref('{_SCHEME_PREF}', {0 if dark else 2})"
        params = {"functionDeclaration": declaration, "target": {"context": self._chrome},
                  "awaitPromise": False}  # fmt: skip
        try:
            self.connection.call("script.callFunction", params)
        except (CommandError, CommandTimeout) as exc:
            raise BrowserError(f"firefox failed to set the colour scheme: {exc}") from exc
        self._dark = dark

    def capture(self, context: str, box: Sequence[float], scale: int, element: bool) -> bytes:
        # As the Marionette engine drew it (its references are the gallery's): the page's
        # own drawSnapshot at its scroll position, opaque. BiDi's capture of an element at
        # a fractional offset lands one device pixel apart.
        values = [context, *box, scale]
        params = {"functionDeclaration": _CAPTURE_FUNCTION,
                  "arguments": [argument(value) for value in values],
                  "target": {"context": self._chrome}, "awaitPromise": True}  # fmt: skip
        try:
            answer = self.connection.call("script.callFunction", params, COMMAND_SECONDS)
        except CommandTimeout as exc:
            raise RenderTimeout("the page did not answer in time (its capture)") from exc
        except CommandError as exc:
            raise BrowserError(f"firefox failed to capture: {exc}") from exc
        if answer.get("type") != "success":
            raise BrowserError(f"firefox failed to capture: {answer.get('exceptionDetails')}")
        url = str(python(answer.get("result", {})))
        return base64.b64decode(url.split(",", 1)[1])

    def close(self) -> None:
        connection = getattr(self, "connection", None)
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.call("browser.close", {}, 10, last=True)
        process = self._process
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, 9)
                process.wait()
            self._process = None
        # Once Firefox is gone: its socket closed, Selenium's close returns at once. Before,
        # with a render in flight, it waited 10 s for the socket's thread.
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class ChromiumBrowser(Browser):
    """Chromium through chromedriver's BiDi connection."""

    name = "chromium"
    resolved_here = (NOWHERE,)

    def __init__(self, options: EngineOptions, proxy_port: int | None, binary: str) -> None:
        self._dir = _own_dir("chromium")
        self._driver: webdriver.Chrome | None = None
        if len(str(self._dir)) > MAX_TMPDIR_LENGTH:
            self.close()
            raise BrowserError(
                f"chromium did not start: TMPDIR {tempfile.gettempdir()} is too long for its "
                f"socket path (at most {MAX_TMPDIR_LENGTH - 24} characters)"
            )
        chrome = chrome_options(options, proxy_port, binary)
        chrome.add_argument(f"--user-data-dir={self._dir / 'profile'}")
        chrome.enable_bidi = True
        service = Service(CHROMEDRIVER, env={**os.environ, "TMPDIR": str(self._dir)})
        try:
            self._driver = webdriver.Chrome(service=service, options=chrome)
            agent = user_agent(str(self._driver.execute_script("return navigator.userAgent;")))
            connection = Connection(str(self._driver.caps["webSocketUrl"]), START_SECONDS)
            connection.call("emulation.setUserAgentOverride", {"userAgent": agent})
        except (WebDriverException, OSError, HTTPError, CommandError, CommandTimeout) as exc:
            self.close()
            raise BrowserError(f"chromium did not start: {exc}") from exc
        super().__init__(connection, options, proxy_port)

    def _cdp(self, context: str, method: str, params: dict[str, object]) -> dict[str, Any]:
        """A DevTools command for the page in ``context``, through the session BiDi gives
        it (CommandError, CommandTimeout as the BiDi commands)."""
        session = self.connection.call("goog:cdp.getSession", {"context": context})
        answer = self.connection.call(
            "goog:cdp.sendCommand",
            {"method": method, "params": params, "session": session["session"]},
            COMMAND_SECONDS,
        )
        return dict(answer.get("result") or {})

    @contextlib.contextmanager
    def scheme(self, context: str, dark: bool) -> Iterator[None]:
        if dark:
            # Chromium emulates it per tab, through the DevTools session BiDi gives it.
            features = [{"name": "prefers-color-scheme", "value": "dark"}]
            try:
                self._cdp(context, "Emulation.setEmulatedMedia", {"features": features})
            except (CommandError, CommandTimeout) as exc:
                raise BrowserError(f"chromium failed to set the colour scheme: {exc}") from exc
        yield

    def capture(self, context: str, box: Sequence[float], scale: int, element: bool) -> bytes:
        # DevTools' own capture, as the engine before took it: BiDi's, through chromedriver's
        # mapper, took 208 ms against 174 (docs/benchmarks.md, "second figures").
        params: dict[str, object] = {"format": "png"}
        if element:
            left, top, width, height = box
            clip = {"x": left, "y": top, "width": width, "height": height, "scale": 1}
            params = {**params, "clip": clip, "captureBeyondViewport": True}
        try:
            shot = self._cdp(context, "Page.captureScreenshot", params)
        except CommandTimeout as exc:
            raise RenderTimeout("the page did not answer in time (its capture)") from exc
        except CommandError as exc:
            raise BrowserError(f"chromium failed to capture: {exc}") from exc
        return base64.b64decode(str(shot["data"]))

    def close(self) -> None:
        connection = getattr(self, "connection", None)
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
        if self._driver is not None:
            with contextlib.suppress(Exception):
                self._driver.quit()
            self._driver = None
        shutil.rmtree(self._dir, ignore_errors=True)


def start(
    name: str, options: EngineOptions, proxy_port: int | None = None, binary: str | None = None
) -> ContextEngine:
    """Start the named browser for concurrent renders."""
    if name == "firefox":
        return ContextEngine(FirefoxBrowser(options, proxy_port, binary or FIREFOX_BINARY))
    if name == "chromium":
        return ContextEngine(ChromiumBrowser(options, proxy_port, binary or CHROMIUM_BINARY))
    raise ValueError(f"unknown engine {name!r}")
