"""Many renders at once in one browser: each in a WebDriver BiDi user context of its own
(own cookies, storage, cache and service workers), made for it and removed after it, in a
tab whose viewport is set exactly. The tab opens in a window kept for the render slot: a
window per render cost Firefox 0.3-0.5 CPU-s more a render (its chrome document;
docs/benchmarks.md). Chromium opens it in a window of its own all the same (its windows
hold one profile's tabs). Written once for both engines: a Browser (the launchers in
worker/engines/launch.py) says only what differs between them.

Thread-safe: each call of ``screenshot`` is one render, and several threads may call it at
once. A render's limits are its own: its time runs from its own start, and a page that
hangs holds only its own context (and, with site isolation, its own content process).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from worker.engines import (
    ACTIVITY_SCRIPT,
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
    settled,
)
from worker.engines.bidi import (
    CommandError,
    CommandTimeout,
    Connection,
    argument,
    function,
    python,
)
from worker.engines.consent import MENTIONS_CONSENT_SCRIPT, load_autoconsent

NETWORK_EVENTS = ["network.beforeRequestSent", "network.responseStarted",
                  "network.responseCompleted", "network.fetchError"]  # fmt: skip
# Frames' requests count for the render of their page: each frame is a context of its own.
EVENTS = [*NETWORK_EVENTS, "browsingContext.contextCreated"]
# What a warming spare's blank page is answered with (ContextEngine._answer_held).
BLANK_RESPONSE = {
    "statusCode": 200,
    "reasonPhrase": "OK",
    "headers": [{"name": "Content-Type", "value": {"type": "string", "value": "text/html"}}],
    "body": {"type": "string", "value": "<!doctype html><title></title>"},
}
# Seconds a render waits at most for the spare on its way behind its guard (opened in a
# fraction of that), before it opens a context of its own.
SPARE_SECONDS = 2.0
# The answers to a script's command whose page went to another document under it: Chromium
# said "unknown error: Cannot find context with specified id"; the others are the
# protocol's and DevTools' words for it. Any other error is the browser's.
_DOCUMENT_GONE = ("no such frame", "Cannot find context with specified id",
                  "Execution context was destroyed")  # fmt: skip
# Seconds a command other than the navigation and the wait may take, past which the page
# is taken to be hung (a busy loop blocks its scripts).
COMMAND_SECONDS = 10.0
# Seconds the end of a render waits at most for its context to be removed (two commands):
# past that the browser is hung, and its next command fails the render that sends it.
LEAVE_SECONDS = 2 * COMMAND_SECONDS + 1


class Openings:
    """Tabs open side by side; a window opens alone. Firefox's browsingContext.create
    first reads the selected tab of its most recent window, whatever window the tab is
    for; while a window opens, that is the new one, still without its tab browser, and a
    tab opened then failed with 'TypeError: can't access property "selectedTab"' (twice
    in clean-clone CI with 13 renders at once, once after three tries 0.2 s apart; its
    remote agent's root browsingContext.sys.mjs). A window that waits goes first: no more
    tabs start until it is open."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._tabs = 0  # tabs being opened
        self._waiting = 0  # windows waiting to open
        self._window = False  # a window being opened

    @contextlib.contextmanager
    def tab(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._waiting and not self._window)
            self._tabs += 1
        try:
            yield
        finally:
            with self._changed:
                self._tabs -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
            self._changed.wait_for(lambda: not self._tabs and not self._window)
            self._waiting -= 1
            self._window = True
        try:
            yield
        finally:
            with self._changed:
                self._window = False
                self._changed.notify_all()


@dataclass
class Traffic:
    """One render's requests, from the protocol's network events (HTTPS ones too): which
    are pending, when one last started or ended, the main document's redirects."""

    context: str = ""
    pending: dict[str, str] = field(default_factory=dict)
    last: float = field(default_factory=time.monotonic)
    redirects: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def started(self, params: dict[str, Any]) -> None:
        with self.changed:
            request = params.get("request", {})
            self.pending[str(request.get("request"))] = str(request.get("url", ""))
            if params.get("navigation") and params.get("context") == self.context:
                self.redirects = max(self.redirects, int(params.get("redirectCount") or 0))
            self.last = time.monotonic()
            self.changed.notify_all()

    def answered(self, params: dict[str, Any]) -> None:
        """A response's headers arrived: for a new document of the page (a script's
        ``location.href = ...`` while it loads, say), the requests of the one it replaces
        are cancelled, and not every browser reports their end."""
        status = int(params.get("response", {}).get("status") or 0)
        if not params.get("navigation") or params.get("context") != self.context:
            return
        if 300 <= status < 400:
            return  # a redirect: the document is still to come
        with self.changed:
            own = str(params.get("request", {}).get("request"))
            self.pending = {key: url for key, url in self.pending.items() if key == own}
            self.changed.notify_all()

    def ended(self, params: dict[str, Any]) -> None:
        with self.changed:
            self.pending.pop(str(params.get("request", {}).get("request")), None)
            self.last = time.monotonic()
            self.changed.notify_all()

    def quiet_within(self, seconds: float) -> list[str] | None:
        """None once no request started or ended for QUIET_SECONDS; else, when ``seconds``
        have passed, the requests still pending."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while True:
                now = time.monotonic()
                idle = now - self.last
                if not self.pending and idle >= QUIET_SECONDS:
                    return None
                if now >= deadline:
                    return list(self.pending.values())
                pause = QUIET_SECONDS - idle if not self.pending else deadline - now
                self.changed.wait(max(0.001, min(pause, deadline - now)))


class Browser:
    """What one engine's browser is to the renders: its connection, and what it does its
    own way (each launcher's subclass)."""

    name = ""

    def __init__(
        self, connection: Connection, options: EngineOptions, proxy_port: int | None
    ) -> None:
        self.connection = connection
        self.options = options
        self.proxy_port = proxy_port

    def user_context(self, proxy_port: int | None) -> dict[str, Any]:
        """The parameters of browser.createUserContext: every request of the context through
        the egress guard on ``proxy_port`` (the browser's own guard where None), loopback
        addresses too."""
        port = proxy_port or self.proxy_port
        if not port:
            return {}
        address = f"127.0.0.1:{port}"
        settings = {"proxyType": "manual", "httpProxy": address, "sslProxy": address,
                    "noProxy": ["<-loopback>", *self.resolved_here]}  # fmt: skip
        return {"proxy": settings}

    # Names the browser resolves (to nothing) itself, never sent to the guard.
    resolved_here: tuple[str, ...] = ()
    # True: a spare's tab loads a blank document of the last render's site ahead (answered
    # by the browser itself: nothing is sent), so that its content process is started.
    warms_site = False

    def scheme(self, context: str, dark: bool) -> contextlib.AbstractContextManager[None]:
        """Hold prefers-color-scheme as asked for a render in ``context`` while it runs."""
        raise NotImplementedError

    def capture(self, context: str, box: Sequence[float], scale: int, element: bool) -> bytes:
        """A PNG of ``box`` of the page in ``context`` (CSS pixels of the document): the
        viewport where it is, or an ``element``'s box. Each engine's own way, as its engine
        before took it: BiDi's captureScreenshot lands an element one device pixel apart in
        Firefox, and costs Chromium more through chromedriver's mapper."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the browser and its driver; never raises."""
        raise NotImplementedError


class ContextEngine:
    """A running browser that renders many pages at once, each in its own user context."""

    def __init__(self, browser: Browser) -> None:
        self.name = browser.name
        self._browser = browser
        self._options = browser.options
        self._consent = load_autoconsent() if browser.options.hide_consent else ""
        # The traffic of each render's page, by its context and those of its frames.
        self._traffic: dict[str, Traffic] = {}
        # Windows (each one blank tab of the default user context) no render holds now.
        self._windows: list[str] = []
        # A render opened ahead behind each egress guard (the proxy is its context's), in
        # a window of its own, once a render ends with none other in flight: what a lone
        # render waits for is then ready for the next, and renders at once (whose browser
        # is busy) make no windows only for spares (a window costs Firefox 0.3-0.5 CPU-s
        # and memory).
        self._spares: dict[int | None, _Render] = {}
        self._site = ""  # the origin of the last render's page, a spare's to warm
        self._warming: set[str] = set()  # the contexts of spares loading their blank page
        self._preparing: set[int | None] = set()
        self._awaited: set[int | None] = set()  # guards whose spare a render waits for
        self._in_flight = self._most_in_flight = self._windows_made = 0
        # The viewport of the last render (width, height, scale): a spare's, set ahead.
        self._size: tuple[int, int, int] | None = None
        self._closed = False
        self._guard = threading.Lock()
        self._spare_made = threading.Condition(self._guard)
        self._openings = Openings()
        connection = browser.connection
        connection.listen("network.beforeRequestSent", self._on_request)
        connection.listen("network.responseStarted", self._on_answer)
        connection.listen("network.responseCompleted", self._on_end)
        connection.listen("network.fetchError", self._on_end)
        connection.listen("browsingContext.contextCreated", self._on_context)
        try:
            connection.call("session.subscribe", {"events": EVENTS})
            # Readiness's hook, in every page before its own scripts: written once, for all.
            declaration = f"() => {{\n{ACTIVITY_SCRIPT}\n}}"
            connection.call("script.addPreloadScript", {"functionDeclaration": declaration})
        except (CommandError, CommandTimeout) as exc:
            browser.close()
            raise BrowserError(f"{self.name} did not start: {exc}") from exc

    def _on_context(self, params: dict[str, Any]) -> None:
        traffic = self._traffic.get(str(params.get("parent")))
        if traffic is not None:
            self._traffic[str(params.get("context"))] = traffic

    def _on_request(self, params: dict[str, Any]) -> None:
        if params.get("isBlocked"):
            # Held by a spare's intercept (warm): answered in a thread of its own, since
            # this one (the socket's) carries the answer to the call.
            self._in_background(self._answer_held, params)
            return
        if (traffic := self._traffic.get(str(params.get("context")))) is not None:
            traffic.started(params)

    def _answer_held(self, params: dict[str, Any]) -> None:
        """Answer a spare's blank page itself; let any other request held go on (none is
        meant to be: an intercept is only ever a warming spare's). Never raises."""
        request = str(params.get("request", {}).get("request"))
        if str(params.get("context")) in self._warming:
            method, answer = "network.provideResponse", {"request": request, **BLANK_RESPONSE}
        else:
            method, answer = "network.continueRequest", {"request": request}
        with contextlib.suppress(CommandError, CommandTimeout):
            self._browser.connection.call(method, answer, COMMAND_SECONDS)

    def _on_answer(self, params: dict[str, Any]) -> None:
        if (traffic := self._traffic.get(str(params.get("context")))) is not None:
            traffic.answered(params)

    def _on_end(self, params: dict[str, Any]) -> None:
        if (traffic := self._traffic.get(str(params.get("context")))) is not None:
            traffic.ended(params)

    def screenshot(
        self,
        url: str,
        width: int,
        height: int,
        scale: int,
        page: PageOptions = PLAIN,
        *,
        proxy_port: int | None = None,
    ) -> Shot:
        """Load ``url`` in a context of its own at the given viewport; return a PNG of the
        viewport (or of the element ``page.selector`` names), once the context is gone.
        ``proxy_port``: the egress guard of this render alone (its own counts), instead of
        the browser's."""
        with self.rendering(url, width, height, scale, page, proxy_port=proxy_port) as shot:
            return shot

    @contextlib.contextmanager
    def rendering(
        self,
        url: str,
        width: int,
        height: int,
        scale: int,
        page: PageOptions = PLAIN,
        *,
        proxy_port: int | None = None,
    ) -> Iterator[Shot]:
        """``screenshot``'s shot, handed over while the render's context is being removed
        (the caller encodes the image meanwhile); the block ends once it is gone. Removed
        before the render's guard goes to another: a page still running after its image (a
        poll's, a refresh's requests) counted against the next render behind that guard. In
        Firefox closing the tab was not enough: requests it had made reached the guard after."""
        with self._guard:
            self._in_flight += 1
            self._most_in_flight = max(self._most_in_flight, self._in_flight)
            self._size = (width, height, scale)
            self._site = origin(url) or self._site
        render: _Render | None = None
        leaving: threading.Thread | None = None
        try:
            render = self._opened(proxy_port)
            render.size(width, height, scale)
            with self._browser.scheme(render.context, page.dark):
                shot = render.run(url, width, height, scale, page)
            leaving = self._in_background(self._leave, render, proxy_port)
            yield shot
        finally:
            if leaving is None:
                self._leave(render, proxy_port)
            else:
                leaving.join(LEAVE_SECONDS)

    def _leave(self, render: _Render | None, proxy_port: int | None) -> None:
        """A render's end: its context removed, then (in the background) the next one's
        opened, now rather than while the render ran: the browser's parent process did that
        work beside the page's (a lone render of a small page 300 ms against 284 in Firefox,
        317 against 223 in Chromium; benchmarks.md). Never raises."""
        free = render.dispose(self._traffic) if render is not None else False
        with self._guard:
            self._in_flight -= 1
            spare = self._spare_wanted(proxy_port)
        self._in_background(self._after, render.window if render and free else "", proxy_port,
                            spare)  # fmt: skip

    def _spare_wanted(self, proxy_port: int | None) -> bool:
        """Whether a spare is to be opened behind ``proxy_port`` now (under the lock): not
        when one is there or on its way, or other renders run (the browser has no time to
        spare). If so it is on its way from now: the next render waits for it."""
        if self._closed or self._in_flight:
            return False
        if proxy_port in self._spares or proxy_port in self._preparing:
            return False
        self._preparing.add(proxy_port)
        return True

    def _after(self, window: str, proxy_port: int | None, spare: bool) -> None:
        """A render's ``window`` free again (if the browser closed its tab), and the spare
        wanted behind ``proxy_port`` opened."""
        if window:
            with self._guard:
                self._windows.append(window)
        if spare:
            self._prepare(proxy_port)

    @staticmethod
    def _in_background(work: Callable[..., None], *arguments: object) -> threading.Thread:
        thread = threading.Thread(target=work, args=arguments, daemon=True, name="ogshot-context")
        thread.start()
        return thread

    def _opened(self, proxy_port: int | None) -> _Render:
        """The spare render behind ``proxy_port`` (waited for while on its way: sooner
        there than a context opened now beside it), or one opened now."""
        with self._guard:
            if proxy_port in self._preparing:
                self._awaited.add(proxy_port)  # no blank page: this render waits
                self._spare_made.wait_for(lambda: proxy_port not in self._preparing, SPARE_SECONDS)
                self._awaited.discard(proxy_port)
            spare = self._spares.pop(proxy_port, None)
        if spare is not None:
            return spare
        render = _Render(self._browser, self._consent)
        try:
            render.open(self._window(), self._openings, self._traffic, proxy_port)
        except BaseException:
            self._recycle(render)
            raise
        return render

    def _prepare(self, proxy_port: int | None) -> None:
        """Open the spare render on its way behind ``proxy_port`` (_spare_wanted), unless
        no window is free and no more may be made. Never raises: a browser that fails here
        fails the next render."""
        spare: _Render | None = None
        ready = False
        try:
            with self._guard:
                if not self._windows and self._windows_made > self._most_in_flight:
                    return
                size, site = self._size, self._site
            spare = _Render(self._browser, self._consent)
            spare.open(self._window(), self._openings, self._traffic, proxy_port)
            # Sized as the last render was: a tab's first viewport cost a lone render 23-32
            # ms in Firefox (its first resize), now spent while no render waits.
            if size:
                spare.size(*size)
            with self._guard:
                awaited = proxy_port in self._awaited
            if site and self._browser.warms_site and not awaited:
                spare.warm(site, self._warming)
            ready = True
        except (BrowserError, RenderFailed):
            pass
        finally:
            if spare is not None and not ready:
                self._recycle(spare)
            with self._guard:
                if spare is not None and ready and not self._closed:
                    self._spares[proxy_port] = spare
                self._preparing.discard(proxy_port)
                self._spare_made.notify_all()

    def _recycle(self, render: _Render) -> None:
        """Remove a render's context and tab; its window is free again. Never raises."""
        if render.dispose(self._traffic) and render.window:
            with self._guard:
                self._windows.append(render.window)
        # Else the browser did not answer: the window is not used again.

    def _window(self) -> str:
        """A window for one render's tab: a free one, or a new one (one per render slot in
        the end: as many as renders ran at once)."""
        with self._guard:
            if self._windows:
                return self._windows.pop()
            self._windows_made += 1
        with self._openings.window():
            try:
                made = self._browser.connection.call(
                    "browsingContext.create", {"type": "window"}, COMMAND_SECONDS
                )
            except (CommandError, CommandTimeout) as exc:
                raise BrowserError(f"{self.name} failed to open a window: {exc}") from exc
        return str(made["context"])

    def close(self) -> None:
        """Stop the browser; never raises."""
        with self._guard:
            self._closed = True
        self._browser.connection.shut()  # renders in flight fail now, and are retried
        self._browser.close()


class _Render(PageSteps):
    """One render: its user context, its window, its traffic; PageSteps' order of steps."""

    def __init__(self, browser: Browser, consent: str) -> None:
        self._browser = browser
        self._call = browser.connection.call
        self._options = browser.options
        self._consent = consent
        self._started = time.monotonic()
        self.window = ""
        self.user_context = ""
        self.context = ""
        self.traffic = Traffic()
        self._size = (0, 0, 0)  # the viewport set (width, height, scale)

    def _left(self) -> float:
        return self._options.render_timeout - (time.monotonic() - self._started)

    def _command(
        self, method: str, params: dict[str, Any], seconds: float = COMMAND_SECONDS
    ) -> dict[str, Any]:
        """A command of this render's; a hung page's or dead browser's failure translated."""
        try:
            return self._call(method, params, seconds)
        except CommandTimeout as exc:
            raise RenderTimeout(f"the page did not answer in time ({method})") from exc
        except CommandError as exc:
            raise BrowserError(f"{self._browser.name} failed: {exc}") from exc

    def open(
        self,
        window: str,
        openings: Openings,
        traffic: dict[str, Traffic],
        proxy_port: int | None,
    ) -> None:
        """Make this render's user context (behind the guard on ``proxy_port``) and its tab
        in ``window``."""
        self.window = window
        made = self._command("browser.createUserContext", self._browser.user_context(proxy_port))
        self.user_context = str(made["userContext"])
        # Opened in front in ``window``: the page is visible, never throttled as hidden.
        params = {"type": "tab", "referenceContext": window, "userContext": self.user_context}
        with openings.tab():
            tab = self._command("browsingContext.create", params)
        self.context = self.traffic.context = str(tab["context"])
        traffic[self.context] = self.traffic

    def size(self, width: int, height: int, scale: int) -> None:
        """Set the tab's viewport, unless it has that one already (a spare sized ahead)."""
        if self._size == (width, height, scale):
            return
        viewport = {"width": width, "height": height}
        self._command(
            "browsingContext.setViewport",
            {"context": self.context, "viewport": viewport, "devicePixelRatio": scale},
        )
        self._size = (width, height, scale)

    def warm(self, site: str, warming: set[str]) -> None:
        """Load a blank document of ``site`` in the tab, answered by the browser itself
        (held by an intercept of this tab's, nothing sent), so that the content process of
        the site in this user context is running when the render's page comes. Firefox
        with site isolation starts one for each: done here, a lone render of a small page
        went from 252 ms to 236 (docs/benchmarks.md)."""
        made = self._command(
            "network.addIntercept", {"phases": ["beforeRequestSent"], "contexts": [self.context]}
        )
        warming.add(self.context)
        try:
            params = {"context": self.context, "url": f"{site}/", "wait": "complete"}
            self._command("browsingContext.navigate", params)
        finally:
            warming.discard(self.context)
            # Raised when it fails: a tab still held would get the blank page for its own.
            self._command("network.removeIntercept", {"intercept": made["intercept"]})
        with self.traffic.changed:
            self.traffic.pending.clear()
            self.traffic.redirects = 0

    def dispose(self, traffic: dict[str, Traffic]) -> bool:
        """Close the tab and remove the context, with all it kept; never raises. False when
        the browser did not do both: its window is not used again."""
        for context in [context for context, of in list(traffic.items()) if of is self.traffic]:
            traffic.pop(context, None)
        try:
            if self.context:
                self._call("browsingContext.close", {"context": self.context}, COMMAND_SECONDS)
            if self.user_context:
                self._call(
                    "browser.removeUserContext", {"userContext": self.user_context}, COMMAND_SECONDS
                )
        except (BrowserError, CommandError, CommandTimeout):
            return False
        return True

    def run(self, url: str, width: int, height: int, scale: int, page: PageOptions) -> Shot:
        self._started = time.monotonic()
        self._navigate(url)
        check_status(self._script(STATUS_SCRIPT), url)
        if (hops := self.traffic.redirects) > MAX_REDIRECTS:
            raise RenderFailed(f"{url} redirected {hops} times (at most {MAX_REDIRECTS})")
        readiness = self._after_load(url, page, self._started)
        answer = self._script(PAGE_SCRIPT)
        title, _at, left, top, challenge, content = answer if isinstance(answer, list) else [""] * 6
        box: Sequence[float] = [float(left or 0), float(top or 0), width, height]
        clipped = False
        if page.selector:
            found = self._page_script(ELEMENT_SCRIPT, page.selector, None)
            box, clipped = element_box(found, url, page, scale)
        png = self._browser.capture(self.context, box, scale, bool(page.selector))
        return self._taken(png, readiness, clipped, (title, challenge, content))

    def _navigate(self, url: str) -> None:
        params = {"context": self.context, "url": url, "wait": "complete"}
        try:
            self._call("browsingContext.navigate", params, max(0.1, self._left()))
        except CommandTimeout as exc:
            raise RenderTimeout(f"{url} did not finish loading in time") from exc
        except CommandError as exc:
            if "concurrent navigation" in exc.message:
                # The page sent the browser elsewhere while it loaded (Chromium ends the
                # command there): wait for the document it went to.
                self._loaded(url)
                return
            # A network or TLS failure of the page itself ("NS_ERROR_...", "net::ERR_...").
            if exc.error == "unknown error" or "ERR_" in exc.message:
                raise RenderFailed(f"{url} could not be loaded: {_first_line(exc)}") from exc
            raise BrowserError(f"{self._browser.name} failed: {exc}") from exc

    def _loaded(self, url: str) -> None:
        """Wait until the page's document has loaded, within the render's time."""
        params = {"expression": "document.readyState", "target": {"context": self.context},
                  "awaitPromise": False}  # fmt: skip
        while self._left() > 0:
            # Between two documents the page answers nothing, or that it has none.
            with contextlib.suppress(CommandError, CommandTimeout):
                answer = self._call("script.evaluate", params, max(0.1, self._left()))
                if python(answer.get("result", {})) == "complete":
                    return
            time.sleep(0.05)
        raise RenderTimeout(f"{url} did not finish loading in time")

    def _evaluate(
        self, body: str, arguments: list[object], seconds: float, asynchronous: bool
    ) -> object:
        params = {
            "functionDeclaration": function(body, asynchronous=asynchronous),
            "arguments": [argument(value) for value in arguments],
            "target": {"context": self.context},
            "awaitPromise": asynchronous,
            "resultOwnership": "none",
        }
        answer = self._call_function(params, seconds)
        if answer.get("type") == "exception":
            details = answer.get("exceptionDetails", {})
            raise _PageScriptError(str(details.get("text", "the script threw")))
        return python(answer.get("result", {}))

    def _call_function(self, params: dict[str, Any], seconds: float) -> dict[str, Any]:
        """script.callFunction, once more in the page's next document if its own went away
        under the script (a refresh, its own location change just after load): Chromium
        answered "Cannot find context with specified id" to 3 of 10 renders of a page with
        a meta refresh of 0 s, and as a browser's failure that stopped every render on it."""
        again = True
        while True:
            try:
                return self._call("script.callFunction", params, seconds)
            except CommandTimeout as exc:
                message = "the page did not answer in time (script.callFunction)"
                raise RenderTimeout(message) from exc
            except CommandError as exc:
                if not any(words in str(exc) for words in _DOCUMENT_GONE):
                    raise BrowserError(f"{self._browser.name} failed: {exc}") from exc
                if not again:
                    raise RenderFailed(f"the page kept leaving its document: {exc}") from exc
            again = False
            self._loaded("the page")

    def _script(self, body: str, *arguments: object) -> object:
        return self._evaluate(body, list(arguments), COMMAND_SECONDS, asynchronous=False)

    def _page_script(self, script: str, argument: object, failed: object) -> object:
        if not argument:
            return [] if isinstance(failed, list) else failed
        try:
            return self._script(script, argument)
        except _PageScriptError:
            return failed

    def _pending_after(self, seconds: float) -> list[str] | None:
        return self.traffic.quiet_within(seconds)

    def _hide_consent(self) -> str:
        if not self._consent:
            return ""
        try:
            if self._script(MENTIONS_CONSENT_SCRIPT):
                self._script(self._consent)
        except _PageScriptError as exc:
            return f"error: consent banner: {exc}"
        return ""

    def _settle(self, seconds: float, wait_for: str = "") -> str:
        try:
            answer = self._evaluate(
                SETTLE_SCRIPT, [seconds * 1000, wait_for], seconds + 5, asynchronous=True
            )
        except _PageScriptError as exc:
            return f"error: {exc}"
        outcome, self._waited = settled(answer)
        return outcome


class _PageScriptError(Exception):
    """A script run in the page threw: a fact about the page."""


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) ``url``, without any user name or password;
    "" for any other (the health probe's about:blank)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
