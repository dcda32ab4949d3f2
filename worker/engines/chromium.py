"""Chromium driven by Selenium through Debian's chromedriver (never Selenium Manager)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from urllib3.exceptions import HTTPError

from worker.engines import (
    ACTIVITY_SCRIPT,
    AGENT_SCRIPT,
    ELEMENT_SCRIPT,
    MAX_REDIRECTS,
    PAGE_SCRIPT,
    PLAIN,
    QUIET_SECONDS,
    SETTLE_SCRIPT,
    STATUS_SCRIPT,
    BrowserError,
    EngineOptions,
    PageOptions,
    PageSteps,
    RenderFailed,
    RenderTimeout,
    Shot,
    check_status,
    element_box,
    next_look,
    same_document,
    settled,
    user_agent,
)
from worker.engines.consent import MENTIONS_CONSENT_SCRIPT, load_autoconsent

# The browser itself, not Debian's /usr/bin/chromium wrapper: the wrapper adds Google API
# keys (so the browser keeps asking accounts.google.com about sign-in) and flags that load
# extensions and look for their updates, none of which a renderer wants.
CHROMIUM_BINARY = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Chromium puts its singleton socket at $TMPDIR/org.chromium.Chromium.scoped_dir.XXXXXX/
# SingletonSocket, and a unix socket path has at most 107 bytes: past this, it cannot start.
MAX_TMPDIR_LENGTH = 56
ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--dns-prefetch-disable",
    # The browser asks nothing of its own (each would knock on the egress guard on a timer,
    # and none changes a page's image): no network time, optimisation hints, autofill
    # server, translation, search-engine preconnect, phishing models, pings or reports.
    "--disable-features=NetworkPrediction,NetworkTimeServiceQuerying,OptimizationHints,"
    "OptimizationHintsFetching,OptimizationGuideModelDownloading,OptimizationTargetPrediction,"
    "AutofillServerCommunication,Translate,MediaRouter,DialMediaRouteProvider,"
    "SearchEnginePreconnector,SearchEnginePreconnect2,CertificateTransparencyComponentUpdater,"
    "InterestFeedContentSuggestions,PrivacySandboxSettings4,PreconnectToSearch,"
    # Nor a web page of its own for the address bar's popup in each window, headless too:
    # a renderer per window, about 1.3 CPU-s per render where each has a window of its
    # own (renders at once, a user context each).
    "WebUIOmniboxPopup,WebUIOmniboxAimPopup",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-component-extensions-with-background-pages",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--no-pings",
    "--password-store=basic",
    "--disable-search-engine-choice-screen",
    # What no switch turns off (sign-in's account listing, the component updater) is sent
    # to names that never resolve, and never reaches the egress guard (see NOWHERE).
    "--gaia-url=https://gaia.invalid/",
    "--google-apis-url=https://apis.invalid/",
    "--lso-url=https://lso.invalid/",
    "--component-updater=url-source=https://update.invalid/service/update2/json",
    "--host-resolver-rules=MAP *.invalid ~NOTFOUND",
)
# Resolved (to nothing) by the browser itself rather than sent to the proxy.
NOWHERE = "*.invalid"
# Profile preferences to the same end: no sign-in (Google accounts), no predictions.
PREFS = {
    "signin.allowed": False,
    "net.network_prediction_options": 2,
    "search.suggest_enabled": False,
    "safebrowsing.enabled": False,
    "translate.enabled": False,
    "autofill.profile_enabled": False,
    "autofill.credit_card_enabled": False,
    "credentials_enable_service": False,
    "profile.default_content_setting_values.popups": 2,
    # The default search engine (Debian's: DuckDuckGo) is warmed up at start; one that lives
    # nowhere (NOWHERE) is not reached.
    "default_search_provider_data.template_url_data": {
        "keyword": "nowhere",
        "short_name": "nowhere",
        "url": "https://search.invalid/?q={searchTerms}",
    },
}


class Requests:
    """The page's requests, from DevTools network events (HTTPS ones too, which the egress
    guard only sees as a tunnel): which are pending, when the last one started or ended,
    how often the main document was redirected, and which origins ran documents."""

    def __init__(self, main_frame: str) -> None:
        self.main_frame = main_frame
        # The main document's loader: main-frame requests of another loader are the previous
        # page's (it runs until the new one commits), whose ends are not reported.
        self.loader = ""
        self.pending: dict[str, str] = {}
        # The main-frame requests among them, by the loader of the document they are for.
        self._loaders: dict[str, str] = {}
        self.last = 0.0  # when a request last started or ended (chromedriver's clock)
        self.redirects = 0
        self.origins: set[str] = set()

    def read(self, entries: list[dict[str, Any]]) -> None:
        """Take in performance-log entries (each says when chromedriver received it)."""
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method", ""), message.get("params", {})
            if method == "Network.requestWillBeSent":
                if params.get("frameId") == self.main_frame:
                    if params.get("type") == "Document":
                        self._replace_document(params.get("loaderId", ""))
                    if params.get("loaderId") != self.loader:
                        continue
                    self._loaders[params["requestId"]] = self.loader
                url = params["request"]["url"]
                self.pending[params["requestId"]] = url
                if params.get("type") == "Document":
                    parts = urlsplit(url)
                    self.origins.add(f"{parts.scheme}://{parts.netloc}")
                    if params.get("frameId") == self.main_frame and "redirectResponse" in params:
                        self.redirects += 1
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.pending.pop(params["requestId"], None)
                self._loaders.pop(params["requestId"], None)
            else:
                continue
            self.last = max(self.last, entry["timestamp"] / 1000)

    def _replace_document(self, loader: str) -> None:
        """A new main document (a script's ``location.href = ...`` during load, say): the
        requests of the one it replaces are cancelled without an end being reported."""
        if loader == self.loader:
            return
        for request_id, of in list(self._loaders.items()):
            if of != loader:
                self.pending.pop(request_id, None)
                del self._loaders[request_id]
        self.loader = loader


def chrome_options(
    options: EngineOptions, proxy_port: int | None, binary: str
) -> webdriver.ChromeOptions:
    """The browser's switches, preferences and capabilities, behind the egress guard if
    given: the same whichever protocol drives it."""
    chrome = webdriver.ChromeOptions()
    chrome.binary_location = binary
    chrome.accept_insecure_certs = options.insecure_certs
    # A dialog the activity hook did not answer (in a frame, say) is dismissed, not
    # reported as the browser's failure.
    chrome.unhandled_prompt_behavior = "dismiss"
    for arg in ARGS:
        chrome.add_argument(arg)
    chrome.add_experimental_option("prefs", PREFS)
    # ChromeDriver lets pages open windows without a click; Chromium's own blocker does
    # not, so a popup never runs on behind later renders.
    chrome.add_experimental_option("excludeSwitches", ["disable-popup-blocking"])
    if proxy_port:
        chrome.add_argument(f"--proxy-server=http://127.0.0.1:{proxy_port}")
        # Chromium bypasses proxies for loopback unless this removes the implicit rule.
        chrome.add_argument(f"--proxy-bypass-list=<-loopback>;{NOWHERE}")
    return chrome


class ChromiumEngine(PageSteps):
    """One headless Chromium, kept warm across renders."""

    name = "chromium"

    def __init__(
        self, options: EngineOptions, proxy_port: int | None = None, binary: str = CHROMIUM_BINARY
    ) -> None:
        chrome = chrome_options(options, proxy_port, binary)
        # DevTools network events tell how many redirects the main document took, also
        # inside HTTPS, where the egress guard cannot see them.
        chrome.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self._viewport: tuple[int, int, int] | None = None
        self._options = options
        self._at = ""  # where the last render left the browser
        self._dark = False  # prefers-color-scheme: dark emulated (PageOptions.dark)
        self._consent = load_autoconsent() if options.hide_consent else ""
        self._requests = Requests("")
        # Profile and temporary files go into a directory of this engine's, removed in
        # close(): Chromium leaves some in TMPDIR after every browser otherwise.
        try:
            self._dir = Path(tempfile.mkdtemp(prefix="ogshot-chromium-"))
        except OSError as exc:
            raise BrowserError(f"chromium did not start: no temporary directory: {exc}") from exc
        if len(str(self._dir)) > MAX_TMPDIR_LENGTH:
            self.close()
            raise BrowserError(
                f"chromium did not start: TMPDIR {tempfile.gettempdir()} is too long for its "
                f"socket path (at most {MAX_TMPDIR_LENGTH - 24} characters)"
            )
        chrome.add_argument(f"--user-data-dir={self._dir / 'profile'}")
        # The driver's (and so the browser's) environment: this process's, with a TMPDIR of
        # the browser's own. Passed on, not read as a setting.
        service = Service(CHROMEDRIVER, env={**os.environ, "TMPDIR": str(self._dir)})
        try:
            self._driver = webdriver.Chrome(service=service, options=chrome)
            self._driver.set_page_load_timeout(options.render_timeout)
            self._driver.set_script_timeout(options.ready_timeout + 5)
            # Headless Chromium says "HeadlessChrome", which bot walls block on sight.
            default_agent = str(self._driver.execute_script(AGENT_SCRIPT))
            self._driver.execute_cdp_cmd(
                "Network.setUserAgentOverride", {"userAgent": user_agent(default_agent)}
            )
            # Readiness's hook, run in every page before its own scripts.
            self._driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": ACTIVITY_SCRIPT}
            )
        except (WebDriverException, OSError, HTTPError) as exc:
            self.close()
            raise BrowserError(f"chromium did not start: {_first_line(exc)}") from exc

    def screenshot(
        self, url: str, width: int, height: int, scale: int, page: PageOptions = PLAIN
    ) -> Shot:
        """Load ``url`` at the given viewport and return a PNG of the viewport (or of the
        element ``page.selector`` names)."""
        driver, options = self._driver, self._options
        try:
            if page.dark != self._dark:
                # Kept by the tab for the pages loaded next.
                scheme = [{"name": "prefers-color-scheme", "value": "dark" if page.dark else ""}]
                driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": scheme})
                self._dark = page.dark
            if self._viewport != (width, height, scale):
                # Window size is not viewport size; the device-metrics override is exact.
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False},
                )
                self._viewport = (width, height, scale)
            if options.clean:
                self._forget(url)
            self._log()  # drop the events of earlier pages
            started = time.monotonic()
            try:
                driver.get(url)
            except TimeoutException as exc:
                raise RenderTimeout(f"{url} did not finish loading in time") from exc
            except WebDriverException as exc:
                if "net::ERR_" in str(exc.msg):
                    raise RenderFailed(f"{url} could not be loaded: {_first_line(exc)}") from exc
                raise
            # Read first: a page that fails below still has its origins cleared before the next.
            tree = driver.execute_cdp_cmd("Page.getFrameTree", {})
            self._requests = Requests(tree["frameTree"]["frame"]["id"])
            self._requests.read(self._log())
            check_status(driver.execute_script(STATUS_SCRIPT), url)
            if (hops := self._requests.redirects) > MAX_REDIRECTS:
                raise RenderFailed(f"{url} redirected {hops} times (at most {MAX_REDIRECTS})")
            readiness = self._after_load(url, page, started)
            clipped = False
            if page.selector:
                found = self._page_script(ELEMENT_SCRIPT, page.selector, None)
                (left, top, wide, high), clipped = element_box(found, url, page, scale)
                clip = {"x": left, "y": top, "width": wide, "height": high, "scale": 1}
                shot = driver.execute_cdp_cmd(
                    "Page.captureScreenshot",
                    {"format": "png", "clip": clip, "captureBeyondViewport": True},
                )
                png = base64.b64decode(shot["data"])
            else:
                png = driver.get_screenshot_as_png()
            title, self._at, _left, _top, challenge, content = driver.execute_script(PAGE_SCRIPT)
            return self._taken(png, readiness, clipped, (title, challenge, content))
        except RenderFailed:
            raise
        except (WebDriverException, OSError, HTTPError) as exc:
            self._viewport = None
            raise BrowserError(f"chromium failed: {_first_line(exc)}") from exc

    def _log(self) -> list[dict[str, Any]]:
        return self._driver.get_log("performance")  # type: ignore[no-untyped-call,no-any-return]

    def _pending_after(self, seconds: float) -> list[str] | None:
        deadline = time.monotonic() + seconds
        requests = self._requests
        while True:
            requests.read(self._log())
            if not requests.pending and time.time() - requests.last >= QUIET_SECONDS:
                return None
            if time.monotonic() >= deadline:
                return list(requests.pending.values())
            pause = next_look(bool(requests.pending), time.time() - requests.last)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))

    def _hide_consent(self) -> str:
        if not self._consent:
            return ""
        try:
            if self._driver.execute_script(MENTIONS_CONSENT_SCRIPT):
                self._driver.execute_script(self._consent)
        except (JavascriptException, TimeoutException) as exc:
            return f"error: consent banner: {_first_line(exc)}"
        return ""

    def _page_script(self, script: str, argument: object, failed: object) -> object:
        """Run one of the option scripts; ``failed`` when the browser refused it (a selector
        it does not know) or the page broke it."""
        if not argument:
            return [] if isinstance(failed, list) else failed
        try:
            return self._driver.execute_script(script, argument)
        except JavascriptException:
            return failed

    def _settle(self, seconds: float, wait_for: str = "") -> str:
        try:
            answer = self._driver.execute_async_script(SETTLE_SCRIPT, seconds * 1000, wait_for)
            outcome, self._waited = settled(answer)
            return outcome
        except (JavascriptException, TimeoutException) as exc:
            # The page broke the script (replaced what it uses, say): a fact about the page.
            return f"error: {_first_line(exc)}"

    def _forget(self, url: str) -> None:
        """Before loading ``url``: nothing of earlier pages, and a load, never just a scroll."""
        driver = self._driver
        if same_document(self._at, url):
            driver.get("about:blank")
        for origin in self._requests.origins:
            clear = {"origin": origin, "storageTypes": "all"}
            driver.execute_cdp_cmd("Storage.clearDataForOrigin", clear)
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})

    def close(self) -> None:
        """Stop Chromium and chromedriver and remove their temporary files."""
        driver = getattr(self, "_driver", None)
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.quit()
        shutil.rmtree(self._dir, ignore_errors=True)


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return (str(text).strip().splitlines() or [type(exc).__name__])[0]
