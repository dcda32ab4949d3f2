"""Many renders at once in one browser (worker/engines/contexts.py, issue 27), in both
engines driven over WebDriver BiDi: every gallery page rendered at once looks as it does
rendered alone and as its reference from the engines before; a render sees nothing of
another's data; a page that hangs holds up only its own render."""

from __future__ import annotations

import io
import ipaddress
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from PIL import Image

from harness.servers import PageServer
from shared.urlpolicy import UrlPolicy
from tests.helpers import BINARIES, require
from tests.worker.gallery import NOISY_SHARE, Exhibit, differing, exhibits, reference
from worker.egress import EgressGuard
from worker.engines import BrowserError, EngineOptions, RenderTimeout, Shot
from worker.engines.contexts import ContextEngine
from worker.engines.launch import start

pytestmark = [pytest.mark.browser, pytest.mark.server]
EXHIBITS = exhibits()
T = TypeVar("T")
# Firefox's device scale is now the context's own (browsingContext.setViewport), no longer
# the browser-wide layout.css.devPixelsPerPx of the references: an element at a fractional
# offset is laid out one device pixel apart at scale 2. Seen, and said in issue 27's note.
KNOWN_APART = {("firefox", "selector")}


@pytest.fixture(scope="module", params=["firefox", "chromium"])
def engine(request: pytest.FixtureRequest) -> Iterator[ContextEngine]:
    """One browser per engine for the module's renders."""
    for binary in BINARIES[request.param]:
        require(binary)
    running = start(request.param, EngineOptions(render_timeout=20))
    yield running
    running.close()


def at_once(work: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run each piece of ``work`` in a thread of its own, all at once; their results (or
    what they raised) in order."""
    results: list[T | BaseException] = [RuntimeError("did not finish")] * len(work)

    def run(index: int) -> None:
        try:
            results[index] = work[index]()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def shoot(engine: ContextEngine, pages: PageServer, exhibit: Exhibit) -> Image.Image:
    shot = engine.screenshot(pages.url(f"/files/{exhibit.path}"), 1200, 630, exhibit.scale,
                             exhibit.page)  # fmt: skip
    return Image.open(io.BytesIO(shot.png)).convert("RGB")


def test_the_gallery_at_once_looks_as_alone_and_as_before(
    engine: ContextEngine, pages: PageServer
) -> None:
    """All thirteen gallery pages at once in one browser: each the same pixels as the same
    page rendered alone, and as its reference (the engines before), but for rasterizer noise.
    The dark page among them: no other page turns dark."""
    for exhibit in EXHIBITS:
        pages.files.update(exhibit.files)
    alone = [shoot(engine, pages, exhibit) for exhibit in EXHIBITS]
    together = at_once([lambda exhibit=exhibit: shoot(engine, pages, exhibit)
                        for exhibit in EXHIBITS])  # fmt: skip
    limit = NOISY_SHARE * 1200 * 630
    wrong = []
    for exhibit, solo, image in zip(EXHIBITS, alone, together, strict=True):
        assert isinstance(image, Image.Image), f"{exhibit.name}: {image!r}"
        expected = Image.open(reference(engine.name, exhibit.name)).convert("RGB")
        assert image.size == solo.size == expected.size, exhibit.name
        if differing(image, solo) > limit:
            wrong.append(f"{exhibit.name}: {differing(image, solo)} pixels differ from alone")
        apart = differing(image, expected)
        if (engine.name, exhibit.name) in KNOWN_APART:
            assert apart > limit, f"{exhibit.name} now matches its reference: drop KNOWN_APART"
        elif apart > limit:
            wrong.append(f"{exhibit.name}: {apart} pixels differ from the reference")
    assert not wrong, "; ".join(wrong)


STORAGE = b"""<!doctype html><title>-</title><script>
document.title = 'cookie=' + document.cookie + ' stored=' + localStorage.getItem('seen');
document.cookie = 'seen=yes; max-age=3600';
localStorage.setItem('seen', 'yes');
</script>"""


def test_a_render_sees_no_data_of_another(engine: ContextEngine, pages: PageServer) -> None:
    """A page that stores a cookie and local storage, rendered three at once and then
    again: no render finds what another left (same origin, same browser)."""
    pages.files["storage.html"] = STORAGE
    url = pages.url("/files/storage.html")

    def title() -> str:
        return engine.screenshot(url, 1200, 630, 1).title

    titles = [*at_once([title, title, title]), title()]
    assert titles == ["cookie= stored=null"] * 4


HUNG = b"<!doctype html><title>hung</title><script>while (true) {}</script>"


@pytest.mark.parametrize("name", ["firefox", "chromium"])
def test_a_hung_page_holds_up_only_its_own_render(name: str, pages: PageServer) -> None:
    """A page that never stops running its script fails at its own time limit, while a page
    of another site rendered beside it finishes first, as it would alone."""
    for binary in BINARIES[name]:
        require(binary)
    pages.files["hung.html"] = HUNG
    exhibit = next(exhibit for exhibit in EXHIBITS if exhibit.name == "spa")
    pages.files.update(exhibit.files)
    # Another site: localhost is not 127.0.0.1 to the browsers' site isolation.
    hung = pages.url("/files/hung.html").replace("127.0.0.1", "localhost")
    engine = start(name, EngineOptions(render_timeout=8))
    ended: dict[str, float] = {}

    def render(what: str, url: str) -> Callable[[], Shot]:
        def run() -> Shot:
            try:
                return engine.screenshot(url, 1200, 630, 1)
            finally:
                ended[what] = time.monotonic()

        return run

    try:
        stuck, fine = at_once([render("hung", hung),
                               render("fine", pages.url(f"/files/{exhibit.path}"))])  # fmt: skip
        assert isinstance(stuck, RenderTimeout), repr(stuck)
        assert isinstance(fine, Shot), repr(fine)
        assert fine.readiness == "ready"
        assert ended["fine"] < ended["hung"]
        # And the browser goes on rendering.
        assert engine.screenshot(pages.url(f"/files/{exhibit.path}"), 1200, 630, 1).title
    finally:
        engine.close()


REFRESHING = b"""<!doctype html><title>before</title>
<meta http-equiv="refresh" content="0;url=/files/refreshed.html"><p>before"""


def test_a_page_that_refreshes_itself_at_load_renders_where_it_went(
    engine: ContextEngine, pages: PageServer
) -> None:
    """A page whose meta refresh of 0 s sends it on just after load: the render waits for
    the next document, and the browser goes on (Chromium answered the render's script in
    3 of 10 with "Cannot find context", taken for a browser's failure)."""
    pages.files["refreshing.html"] = REFRESHING
    pages.files["refreshed.html"] = b"<!doctype html><title>refreshed</title><p>refreshed"
    titles = [
        engine.screenshot(pages.url(f"/files/refreshing.html?n={number}"), 1200, 630, 1).title
        for number in range(10)
    ]
    assert titles == ["refreshed"] * 10


@pytest.mark.parametrize("name", ["firefox", "chromium"])
def test_a_render_in_flight_when_its_browser_stops_fails_as_the_browsers(
    name: str, pages: PageServer
) -> None:
    """Stopping the browser fails the renders in flight on it at once, as a browser's
    failure (BrowserError: retried), not later at their own time limit as a page's: with a
    render in flight the browsers took 9-10 s to stop, longer than this render's 4 s."""
    for binary in BINARIES[name]:
        require(binary)
    engine = start(name, EngineOptions(render_timeout=4))
    started = threading.Event()

    def render() -> Shot:
        started.set()
        return engine.screenshot(pages.url("/page/slow?delay=6"), 1200, 630, 1)

    def stop() -> None:
        started.wait(10)
        time.sleep(1)  # the render's navigation under way
        engine.close()

    failed, _ = at_once([render, stop])
    assert isinstance(failed, BrowserError), repr(failed)


MANY = b"<!doctype html><title>many</title>" + b"".join(
    b"<img src='/page/p%d?bg=ffffff' width=10 height=10>" % number for number in range(30)
)


def test_each_render_counts_its_own_traffic(engine: ContextEngine, pages: PageServer) -> None:
    """Two renders at once, each behind an egress guard of its own (a user context's
    proxy): the page that asks for 31 things breaks a limit of 20 requests, the page that
    asks for one beside it does not, and each guard saw only its own page's requests."""
    policy = UrlPolicy(("127.0.0.1",), (ipaddress.ip_network("127.0.0.1/32"),))
    guards = [EgressGuard(policy, max_bytes=10_000_000, max_requests=20) for _ in range(2)]
    pages.files["many.html"] = MANY
    try:
        sessions = [guard.new_session() for guard in guards]
        urls = [pages.url("/files/many.html"), pages.url("/page/one?bg=ffffff")]
        at_once([lambda url=url, guard=guard: engine.screenshot(url, 1200, 630, 1,
                                                                 proxy_port=guard.port)
                 for url, guard in zip(urls, guards, strict=True)])  # fmt: skip
        heavy, light = sessions
        assert heavy.exceeded == "the page made more than 20 requests"
        assert light.exceeded is None
        assert light.requests <= 2  # the page, and a favicon where the browser asks one
    finally:
        for guard in guards:
            guard.close()


# A page that never stops asking for more: its render is taken at the wait's end, the page
# still asking.
POLLING = b"""<!doctype html><title>polling</title><script>
let n = 0;
setInterval(() => fetch('/page/poll-' + n++), 5);
</script>"""


def test_a_page_still_running_after_its_image_counts_nothing_against_the_next(
    engine: ContextEngine, pages: PageServer
) -> None:
    """Renders one after another behind one egress guard: the next render's counts are its
    own, not those of the page before, still asking for more when its image was taken
    (its tab is closed before the guard goes on)."""
    policy = UrlPolicy(("127.0.0.1",), (ipaddress.ip_network("127.0.0.1/32"),))
    guard = EgressGuard(policy, max_bytes=10_000_000, max_requests=1000)
    pages.files["polling.html"] = POLLING
    try:
        guard.new_session()
        engine.screenshot(pages.url("/files/polling.html"), 1200, 630, 1, proxy_port=guard.port)
        after = guard.new_session()
        engine.screenshot(pages.url("/page/after?bg=ffffff"), 1200, 630, 1, proxy_port=guard.port)
        # The page, and a favicon where the browser asks one (before: 4, two of the polls).
        assert after.requests <= 2
    finally:
        guard.close()


def test_a_renders_block_ends_once_its_page_is_gone(
    engine: ContextEngine, pages: PageServer
) -> None:
    """``rendering`` hands the shot over while the render's context is removed; once its
    block ends, the page (still polling when its image was taken) sends nothing more
    through the render's guard, which may then go to the next render."""
    policy = UrlPolicy(("127.0.0.1",), (ipaddress.ip_network("127.0.0.1/32"),))
    guard = EgressGuard(policy, max_bytes=10_000_000, max_requests=1000)
    pages.files["polling-block.html"] = POLLING
    try:
        guard.new_session()
        url = pages.url("/files/polling-block.html")
        with engine.rendering(url, 1200, 630, 1, proxy_port=guard.port) as shot:
            assert shot.title == "polling"
        after = guard.new_session()
        time.sleep(0.5)  # 100 polls' time, were the page still there
        assert after.requests == 0
    finally:
        guard.close()


def test_the_next_renders_tab_waits_on_the_site_and_asks_it_nothing(
    engine: ContextEngine, pages: PageServer
) -> None:
    """After a render, the next one's context and tab are opened and sized (in Firefox on
    a blank page of the same site, answered by the browser itself, to start its content
    process): the site is asked for nothing but the renders' own pages, and the next render
    is of its own page at its own size."""
    pages.files["spare-one.html"] = b"<!doctype html><title>one</title>"
    pages.files["spare-two.html"] = b"<!doctype html><title>two</title><p>two"
    before = Counter(pages.hits)
    first = engine.screenshot(pages.url("/files/spare-one.html"), 1200, 630, 1)
    time.sleep(2)  # the spare's time
    second = engine.screenshot(pages.url("/files/spare-two.html"), 1200, 630, 2)
    assert (first.title, second.title) == ("one", "two")
    assert Image.open(io.BytesIO(second.png)).size == (2400, 1260)
    asked = pages.hits - before
    assert asked == Counter(["/files/spare-one.html", "/files/spare-two.html"]), asked
