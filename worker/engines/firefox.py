"""Firefox ESR driven through its built-in Marionette protocol (no geckodriver needed)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from marionette_driver import errors
from marionette_driver.addons import Addons
from marionette_driver.marionette import Marionette

from worker.engines import (
    ACTIVITY_SCRIPT,
    AGENT_SCRIPT,
    ELEMENT_SCRIPT,
    MAX_REDIRECTS,
    PAGE_SCRIPT,
    PLAIN,
    POLL_SECONDS,
    QUIET_SECONDS,
    SETTLE_SCRIPT,
    STATUS_SCRIPT,
    VIEWPORT_SCRIPT,
    BrowserError,
    EngineOptions,
    PageOptions,
    PageSteps,
    RenderFailed,
    RenderTimeout,
    Shot,
    check_status,
    element_box,
    same_document,
    settled,
    user_agent,
)
from worker.engines.consent import MENTIONS_CONSENT_SCRIPT, load_autoconsent

FIREFOX_BINARY = "/usr/bin/firefox-esr"
PREFS = {
    "layout.css.devPixelsPerPx": "1.0",
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "media.autoplay.default": 5,
    "media.peerconnection.enabled": False,
    "dom.webnotifications.enabled": False,
    "geo.enabled": False,
    # No connection may leave except through the egress guard (set in proxy_prefs).
    "network.predictor.enabled": False,
    "network.http.speculative-parallel-limit": 0,
    "network.trr.mode": 5,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.http.redirection-limit": MAX_REDIRECTS,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    # The browser asks nothing of its own: no remote settings, updates, telemetry, region or
    # search lookups, plugin downloads, push, OCSP or CRL fetches. Each would knock on the
    # egress guard on a timer, and none changes a page's image.
    "services.settings.server": "data:,#remote-settings-disabled/v1",
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.search.update": False,
    "browser.newtabpage.enabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "",
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.blocklist.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "geo.provider.network.url": "",
    "dom.push.enabled": False,
    "dom.push.connection.enabled": False,
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    # No /favicon.ico request after each load: a preview has no tab to show it in, and the
    # request would hold off the network's quiet (readiness) and cost the site a hit.
    "browser.chrome.site_icons": False,
    # A page's window.open (Marionette's defaults let pages open windows without a click):
    # blocked, so no popup covers the next page's capture or runs on in the background.
    "dom.disable_open_during_load": True,
    "dom.popup_allowed_events": "",
    # Scrollbars that overlay the page instead of taking 12 px of the viewport: the image is
    # the full width of the page (Chromium: --hide-scrollbars).
    "ui.useOverlayScrollbars": 1,
    # One content process for every site, as before site isolation: with it, each render of
    # another site than the last started a new process, 60-90 ms of CPU more (bench/
    # render_cost.py; docs/benchmarks.md). The tab shows one page at a time and its data is
    # cleared before each, so a render still starts clean.
    "fission.autostart": False,
}


def proxy_prefs(port: int) -> dict[str, object]:
    """Send every request through the egress guard on 127.0.0.1:port, localhost included."""
    return {
        "network.proxy.type": 1,
        "network.proxy.http": "127.0.0.1",
        "network.proxy.http_port": port,
        "network.proxy.ssl": "127.0.0.1",
        "network.proxy.ssl_port": port,
        "network.proxy.share_proxy_settings": True,
        "network.proxy.no_proxies_on": "",
        # Firefox skips a configured proxy for localhost unless told otherwise.
        "network.proxy.allow_hijacking_localhost": True,
        "network.proxy.failover_direct": False,
    }


# Errors that mean the page, not the browser, is at fault.
_PAGE_ERRORS = (errors.UnknownException, errors.InsecureCertificateException)
# The browser window's own stylesheet gives it a 500px minimum width (for its toolbars);
# lifting it lets the content viewport go down to the 200px that ogshot accepts.
_UNCLAMP_SCRIPT = """
const style = document.createElement('style');
style.textContent = ':root, toolbox, toolbar, #browser, #tabbrowser-tabbox, #tabbrowser-tabpanels'
  + ' { min-width: 0 !important; min-height: 0 !important; }';
document.documentElement.appendChild(style);
"""
# The page's requests as the browser's network layer sees them (HTTPS ones too, which the
# egress guard only sees as a tunnel): observers in the parent process, where every HTTP
# channel runs, counting those of web content (not the browser's own).
_WATCH_NETWORK_SCRIPT = """
const net = {pending: new Map(), last: Date.now()};
const observer = {observe(subject, topic) {
  const channel = subject.QueryInterface(Ci.nsIHttpChannel);
  if (!channel.loadInfo || !channel.loadInfo.browsingContextID) return;
  if (topic === 'http-on-modify-request') net.pending.set(channel.channelId, channel.URI.spec);
  else net.pending.delete(channel.channelId);
  net.last = Date.now();
}};
Services.obs.addObserver(observer, 'http-on-modify-request');
Services.obs.addObserver(observer, 'http-on-stop-request');
window.ogshotNetwork = net;
"""
# Resolves with null once no request started or ended for arguments[0] ms (the page is
# quiet), or with the URLs still pending when arguments[1] ms have passed.
_QUIET_SCRIPT = """
const [quiet, budget, poll] = arguments;
const done = arguments[arguments.length - 1];
const net = window.ogshotNetwork;
const deadline = Date.now() + budget;
const look = () => {
  const idle = Date.now() - net.last;
  if (!net.pending.size && idle >= quiet) return done(null);
  if (Date.now() >= deadline) return done([...net.pending.values()]);
  // As next_look: with nothing pending, not before the quiet window could have passed.
  const pause = net.pending.size ? poll : Math.max(poll, quiet - idle);
  setTimeout(look, Math.min(pause, Math.max(0, deadline - Date.now())));
};
look();
"""
# Nothing of one render reaches the next: cookies, storage, service workers, caches.
_CLEAR_SCRIPT = """
const done = arguments[arguments.length - 1];
const flags = Ci.nsIClearDataService;
// Tabs and windows a page opened anyway: the capture draws the selected tab, so only
// Marionette's (the first) may stay.
for (const other of Services.wm.getEnumerator('navigator:browser')) {
  if (other !== window) other.close();
}
for (const tab of gBrowser.tabs.slice(1)) gBrowser.removeTab(tab);
window.ogshotNetwork.pending.clear();
Services.clearData.deleteData(flags.CLEAR_COOKIES_AND_SITE_DATA | flags.CLEAR_ALL_CACHES,
                              {onDataDeleted: () => done(true)});
"""
# The viewport as Marionette's own screenshot draws it (drawSnapshot of the page at its
# scroll position), encoded as a PNG without the alpha channel Marionette's has: the page is
# opaque, and its PNG 10-20% smaller for it (docs/benchmarks.md).
# In the chrome scope: a PNG data URL of the box (CSS pixels of the document) of a page's
# window global; the BiDi engine (launch.py) finds the page its own way.
SNAPSHOT_FUNCTION = """(page, left, top, width, height, scale) =>
  page.drawSnapshot(new DOMRect(left, top, width, height), scale, 'rgb(255,255,255)')
    .then(bitmap => {
      const canvas = document.createElementNS('http://www.w3.org/1999/xhtml', 'canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      canvas.getContext('2d').drawImage(bitmap, 0, 0);
      bitmap.close();
      return canvas.toDataURL('image/png', '-moz-parse-options:transparency=none');
    })"""
_CAPTURE_SCRIPT = f"""
const page = gBrowser.selectedBrowser.browsingContext.currentWindowGlobal;
return ({SNAPSHOT_FUNCTION})(page, ...arguments);
"""
# The extension that carries ACTIVITY_SCRIPT into pages (FirefoxEngine._install_activity_hook).
_ACTIVITY_EXTENSION = {
    "manifest_version": 2,
    "name": "ogshot activity",
    "version": "1.0",
    "browser_specific_settings": {"gecko": {"id": "activity@ogshot"}},
    "content_scripts": [
        {
            "matches": ["<all_urls>"],
            "js": ["activity.js"],
            "run_at": "document_start",
            "world": "MAIN",
        }
    ],
}
# prefers-color-scheme of web content, whatever the browser's own theme.
_SCHEME_PREF = "layout.css.prefers-color-scheme.content-override"
# Headless Firefox clamps windows to this virtual screen (1366x768 by default), which is
# smaller than a 2400-pixel image.
_SCREEN = "5000"


class FirefoxEngine(PageSteps):
    """One headless Firefox, kept warm across renders."""

    name = "firefox"

    def __init__(
        self, options: EngineOptions, proxy_port: int | None = None, binary: str = FIREFOX_BINARY
    ) -> None:
        # Firefox's own variables, for the browser this process starts (it inherits them):
        # not settings of ogshot's, so not in shared/config.py.
        os.environ.setdefault("MOZ_HEADLESS_WIDTH", _SCREEN)
        os.environ.setdefault("MOZ_HEADLESS_HEIGHT", _SCREEN)
        # A release build ignores services.settings.server (PREFS) without this: it would
        # fetch remote settings from Mozilla at start and on a timer.
        os.environ.setdefault("MOZ_REMOTE_SETTINGS_DEVTOOLS", "1")
        self._viewport: tuple[int, int, int] | None = None
        self._scale = 1
        self._dark = False  # prefers-color-scheme: dark set (PageOptions.dark)
        self._options = options
        self._at = ""  # where the last render left the browser
        self._consent = load_autoconsent() if options.hide_consent else ""
        # The browser's log and profile go into a directory of this engine's: marionette_driver
        # deletes whatever file it is given before writing it, so given os.devnull it replaced
        # /dev/null with a regular file (as root), or could not start Firefox at all (as any
        # other user). The directory follows TMPDIR and goes away in close().
        try:
            self._dir = Path(tempfile.mkdtemp(prefix="ogshot-firefox-"))
        except OSError as exc:
            raise BrowserError(f"firefox did not start: no temporary directory: {exc}") from exc
        self._log = self._dir / "gecko.log"
        try:
            # port=0 picks a free port: several workers on one machine each get their own.
            self._m = Marionette(
                host="127.0.0.1",
                port=0,
                bin=binary,
                headless=True,
                prefs={**PREFS, **(proxy_prefs(proxy_port) if proxy_port else {})},
                # Without a log file mozprocess writes to sys.stdout.buffer, which Celery's
                # stdout proxy does not have.
                gecko_log=str(self._log),
                # The profile too, so that close() removes it even where mozrunner's own
                # clean-up does not (after a browser that died, say).
                workspace=str(self._dir),
                socket_timeout=options.render_timeout + 20,
                startup_timeout=60,
            )
            self._m.start_session(
                {
                    "acceptInsecureCerts": options.insecure_certs,
                    # A dialog the activity hook did not answer (in a frame, say) is
                    # dismissed, not reported as the browser's failure.
                    "unhandledPromptBehavior": "dismiss",
                }
            )
            self._m.timeout.page_load = options.render_timeout
            self._m.timeout.script = options.ready_timeout + 5
            with self._m.using_context(self._m.CONTEXT_CHROME):
                self._m.execute_script(_UNCLAMP_SCRIPT)
                self._m.execute_script(_WATCH_NETWORK_SCRIPT, sandbox=None)
            default_agent = str(self._m.execute_script(AGENT_SCRIPT))
            self._m.set_pref("general.useragent.override", user_agent(default_agent))
            self._install_activity_hook()
        except Exception as exc:
            # Whatever stops a start (mozversion, mozrunner, Marionette) is a failed start.
            said = self._log_tail()
            self.close()
            raise BrowserError(f"firefox did not start: {exc}{said}") from exc

    def _install_activity_hook(self) -> None:
        """Run ACTIVITY_SCRIPT in every page before its own scripts: Marionette has no
        new-document script, so a temporary extension's content script does it, in the
        page's own world (no CSP applies to it) at document_start."""
        extension = self._dir / "activity"
        extension.mkdir()
        (extension / "activity.js").write_text(ACTIVITY_SCRIPT, encoding="utf-8")
        (extension / "manifest.json").write_text(json.dumps(_ACTIVITY_EXTENSION), encoding="utf-8")
        Addons(self._m).install(str(extension), temp=True)

    def _log_tail(self) -> str:
        """The last lines Firefox wrote, which say why it did not start."""
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            return ""
        return f" (firefox said: {' | '.join(lines)[:300]})" if lines else ""

    def _size_viewport(self, width: int, height: int, scale: int) -> None:
        if self._viewport == (width, height, scale):
            return
        if scale != self._scale:
            # The pref is read live; it halves the CSS viewport of the same window, so the
            # window is re-measured below.
            self._m.set_pref("layout.css.devPixelsPerPx", f"{scale:.1f}")
            self._scale = scale
        self._m.set_window_rect(width=width, height=height)
        for _ in range(4):
            inner_w, inner_h = self._m.execute_script(VIEWPORT_SCRIPT)
            if (inner_w, inner_h) == (width, height):
                self._viewport = (width, height, scale)
                return
            # The window includes toolbars even when headless: grow it by what they take.
            rect = self._m.window_rect
            self._m.set_window_rect(
                width=rect["width"] + width - inner_w, height=rect["height"] + height - inner_h
            )
        self._viewport = None
        raise BrowserError(f"firefox viewport stays {inner_w}x{inner_h}, wanted {width}x{height}")

    def screenshot(
        self, url: str, width: int, height: int, scale: int, page: PageOptions = PLAIN
    ) -> Shot:
        """Load ``url`` at the given viewport and return a PNG of the viewport (or of the
        element ``page.selector`` names)."""
        options = self._options
        try:
            self._size_viewport(width, height, scale)
            self._colour_scheme(page.dark)
            if options.clean:
                self._forget(url)
            started = time.monotonic()
            try:
                self._m.navigate(url)
            except errors.TimeoutException as exc:
                raise RenderTimeout(f"{url} did not finish loading in time") from exc
            except _PAGE_ERRORS as exc:
                raise RenderFailed(f"{url} could not be loaded: {_first_line(exc)}") from exc
            check_status(self._m.execute_script(STATUS_SCRIPT), url)
            readiness = self._after_load(url, page, started)
            title, self._at, left, top, challenge, content = self._m.execute_script(PAGE_SCRIPT)
            box, clipped = [left, top, width, height], False
            if page.selector:
                found = self._page_script(ELEMENT_SCRIPT, page.selector, None)
                box, clipped = element_box(found, url, page, scale)
            png = self._capture(*box)
            return self._taken(png, readiness, clipped, (title, challenge, content))
        except RenderFailed:
            raise
        except (TimeoutError, OSError, errors.MarionetteException) as exc:
            raise BrowserError(f"firefox failed: {_first_line(exc)}") from exc

    def _page_script(self, script: str, argument: object, failed: object) -> object:
        """Run one of the option scripts; ``failed`` when the page's browser refused it (a
        selector it does not know) or the page broke it."""
        if not argument:
            return [] if isinstance(failed, list) else failed
        try:
            return self._m.execute_script(script, script_args=(argument,))
        except errors.JavascriptException:
            return failed

    def _colour_scheme(self, dark: bool) -> None:
        """prefers-color-scheme as the render asks (read live by the pages loaded next)."""
        if dark != self._dark:
            # 0: dark, 2: the browser's own (light when headless).
            self._m.set_pref(_SCHEME_PREF, 0 if dark else 2)
            self._dark = dark

    def _capture(self, left: float, top: float, width: int, height: int) -> bytes:
        with self._m.using_context(self._m.CONTEXT_CHROME):
            url = self._m.execute_script(
                _CAPTURE_SCRIPT, script_args=(left, top, width, height, self._scale), sandbox=None
            )
        return base64.b64decode(str(url).split(",", 1)[1])

    def _pending_after(self, seconds: float) -> list[str] | None:
        with self._m.using_context(self._m.CONTEXT_CHROME):
            pending = self._m.execute_async_script(
                _QUIET_SCRIPT,
                script_args=(QUIET_SECONDS * 1000, seconds * 1000, POLL_SECONDS * 1000),
                sandbox=None,
            )
        return None if pending is None else [str(url) for url in pending]

    def _hide_consent(self) -> str:
        if not self._consent:
            return ""
        try:
            if self._m.execute_script(MENTIONS_CONSENT_SCRIPT, sandbox=None):
                self._m.execute_script(self._consent, sandbox=None)
        except (errors.JavascriptException, errors.ScriptTimeoutException) as exc:
            return f"error: consent banner: {_first_line(exc)}"
        return ""

    def _settle(self, seconds: float, wait_for: str = "") -> str:
        try:
            # In the page's own scope (no sandbox), where its window.ogshotReady is visible.
            outcome, self._waited = settled(
                self._m.execute_async_script(
                    SETTLE_SCRIPT, script_args=(seconds * 1000, wait_for), sandbox=None
                )
            )
            return outcome
        except (errors.JavascriptException, errors.ScriptTimeoutException) as exc:
            # The page broke the script (replaced what it uses, say): a fact about the page.
            return f"error: {_first_line(exc)}"

    def _forget(self, url: str) -> None:
        """Before loading ``url``: nothing of earlier pages, and a load, never just a scroll."""
        if same_document(self._at, url):
            self._m.navigate("about:blank")
        with self._m.using_context(self._m.CONTEXT_CHROME):
            self._m.execute_async_script(_CLEAR_SCRIPT, sandbox=None)

    def close(self) -> None:
        """Stop Firefox and remove its temporary profile."""
        marionette = getattr(self, "_m", None)
        if marionette is not None:
            with contextlib.suppress(Exception):
                marionette.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "about:neterror?e=" in text:
        # "Reached error page: about:neterror?e=connectionFailure&u=...": keep the code.
        return "network error " + text.split("about:neterror?e=", 1)[1].split("&", 1)[0]
    return text[:200]
