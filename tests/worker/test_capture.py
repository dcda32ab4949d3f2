"""What the image shows, in both engines: the page as a person sees it a moment after it
opened (what its scripts fetched, lazy images in place, web fonts, animations ended, the
page's own readiness flag), the full width of the page, nothing left over from the render
before, and a User-Agent that says ogshot without saying headless."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import BINARIES, PageServer, close_to, require
from worker.engines import PRODUCT_TOKEN, BrowserError, Engine, Shot, make_engine
from worker.engines.consent import load_autoconsent

pytestmark = pytest.mark.browser
# Each test also with renders in flight beside its own (tests/worker/conftest.py): in
# Chromium here, each engine in some modules for the suite's time;
# OGSHOT_TESTS_AT_ONCE=all runs both.
AT_ONCE = ("chromium",)
INSECURE_CERTS = True  # the engines accept the self-signed certificate of `secure` below
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DARK = (17, 34, 51)
GREEN = (0, 160, 0)


def page(body: str, style: str = "") -> bytes:
    """A white page with ``body`` and ``style``."""
    head = f"<title>t</title><style>html, body {{ margin: 0; background: #fff; }} {style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


@pytest.fixture(scope="module")
def secure() -> Iterator[PageServer]:
    """The test pages over HTTPS, where only the browser sees the page's requests."""
    server = PageServer("127.0.0.1", tls=True)
    yield server
    server.close()


def render(engine: Engine, pages: PageServer, name: str) -> tuple[Image.Image, Shot]:
    """Render /files/<name> at 1200x630; return the image in RGB and the shot."""
    taken = engine.screenshot(pages.url(f"/files/{name}"), 1200, 630, 1)
    return Image.open(io.BytesIO(taken.png)).convert("RGB"), taken


def shot(engine: Engine, pages: PageServer, name: str) -> Image.Image:
    """Render /files/<name> at 1200x630 and return the image in RGB."""
    return render(engine, pages, name)[0]


# A first screen all green, for pages whose wait is what the test is about.
GREEN_SCREEN = '<div style="height: 630px; background: #00a000">{}</div>'


def assert_centre(image: Image.Image, colour: tuple[int, int, int]) -> None:
    """The middle of the image is ``colour``."""
    assert close_to(image.getpixel((600, 315)), colour), image.getpixel((600, 315))


def green_png() -> bytes:
    """A 1200x630 green PNG."""
    out = io.BytesIO()
    Image.new("RGB", (1200, 630), GREEN).save(out, "PNG")
    return out.getvalue()


def test_a_tall_page_fills_the_whole_width(engine: Engine, pages: PageServer) -> None:
    """A page that scrolls has no scrollbar strip: its dark header reaches the right edge."""
    pages.files["tall.html"] = page('<header></header><div class="tall"></div>',
                                    "header { background: #112233; height: 80px; } "
                                    ".tall { height: 3000px; }")  # fmt: skip
    image = shot(engine, pages, "tall.html")
    for x in (0, 600, 1190, 1199):
        assert close_to(image.getpixel((x, 40)), DARK), (x, image.getpixel((x, 40)))


def test_a_lazy_image_in_the_first_screen_is_in_place(engine: Engine, pages: PageServer) -> None:
    """An <img loading="lazy"> that fills the first screen is loaded and drawn."""
    pages.files["green.png"] = green_png()
    pages.files["lazy.html"] = page('<img loading="lazy" src="/files/green.png?delay=0.5" '
                                    'width="1200" height="630" alt="">',
                                    "img { display: block; }")  # fmt: skip
    image = shot(engine, pages, "lazy.html")
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))


def test_animations_are_captured_at_their_end(engine: Engine, pages: PageServer) -> None:
    """A 5 s fade-in is shown faded in; an endless spinner does not hold the render up."""
    pages.files["fade.html"] = page(
        '<div class="hero"></div><div class="spin"></div>',
        "@keyframes in { from { opacity: 0; } to { opacity: 1; } } "
        "@keyframes turn { to { transform: rotate(360deg); } } "
        ".hero { height: 630px; background: #112233; animation: in 5s ease-out; } "
        ".spin { position: fixed; top: 0; left: 0; width: 20px; height: 20px; "
        "animation: turn 1s linear infinite; }",
    )
    image = shot(engine, pages, "fade.html")
    assert close_to(image.getpixel((600, 315)), DARK), image.getpixel((600, 315))


def test_the_page_can_say_when_it_is_ready(engine: Engine, pages: PageServer) -> None:
    """window.ogshotReady = false holds the capture until the page sets it to true."""
    script = ("<script>window.ogshotReady = false; setTimeout(() => { document.body.innerHTML ="
              " '<div style=\"height: 630px; background: #00a000\"></div>';"
              " window.ogshotReady = true; }, 1000);</script>")  # fmt: skip
    pages.files["flag.html"] = page(script)
    image = shot(engine, pages, "flag.html")
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))


def test_user_agent_names_ogshot_and_not_headless(engine: Engine, pages: PageServer) -> None:
    """The page and its server see the engine's usual User-Agent plus ogshot/<version>."""
    pages.files["agent.html"] = page("<script>document.title = navigator.userAgent;</script>")
    title = engine.screenshot(pages.url("/files/agent.html"), 1200, 630, 1).title
    header = pages.agents["/files/agent.html"]
    assert title == header
    assert header.endswith(" " + PRODUCT_TOKEN)
    assert "Headless" not in header
    assert header.startswith("Mozilla/5.0 (X11; Linux x86_64")


FETCHED = page(
    '<div id="board" style="height: 630px"></div>'
    "<script>fetch('/files/rows.json?delay=1').then(r => r.json())"
    ".then(rows => { document.getElementById('board').style.background = rows.colour; });"
    "</script>"
)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_what_a_script_fetches_after_load_is_waited_for(
    engine: Engine, pages: PageServer, secure: PageServer, scheme: str
) -> None:
    """A scoreboard that fetches its rows after load is shown with them, HTTPS too."""
    server = secure if scheme == "https" else pages
    server.files["rows.json"] = b'{"colour": "#00a000"}'
    server.files["board.html"] = FETCHED
    image, taken = render(engine, server, "board.html")
    assert_centre(image, GREEN)
    assert taken.readiness == "ready"


def test_a_slow_web_font_is_waited_for(engine: Engine, pages: PageServer) -> None:
    """Text in a web font that arrives late is drawn in it (font-display: block hides it)."""
    pages.files["slow.ttf"] = FONT.read_bytes()
    pages.files["font.html"] = page(
        "<p>\u2588</p>",
        "@font-face { font-family: Slow; src: url('/files/slow.ttf?delay=1'); "
        "font-display: block; } "
        "p { font: 600px/1 Slow; margin: 0; color: #112233; }",
    )
    image, taken = render(engine, pages, "font.html")
    assert close_to(image.getpixel((150, 315)), DARK), image.getpixel((150, 315))
    assert taken.readiness == "ready"


def test_a_page_that_never_goes_quiet_is_rendered_at_the_end_of_the_budget(
    engine: Engine, pages: PageServer
) -> None:
    """Endless polling and a request that never ends cost the budget, not the render."""
    pages.files["poll.json"] = b"{}"
    pages.files["busy.html"] = page(
        GREEN_SCREEN.format("") + "<script>setInterval(() => fetch('/files/poll.json'), 40);"
        "fetch('/files/hang.json?delay=30').catch(() => null);</script>"
    )
    image, taken = render(engine, pages, "busy.html")
    assert_centre(image, GREEN)
    assert taken.readiness.startswith("timeout: the network never went quiet"), taken.readiness
    assert "/files/hang.json?delay=30" in taken.readiness


def test_a_page_that_never_says_it_is_ready_is_rendered_and_says_so(
    engine: Engine, pages: PageServer
) -> None:
    """window.ogshotReady left false: rendered at the end of the budget, and recorded."""
    pages.files["never.html"] = page(
        GREEN_SCREEN.format("") + "<script>window.ogshotReady = false;</script>"
    )
    image, taken = render(engine, pages, "never.html")
    assert_centre(image, GREEN)
    assert taken.readiness == "timeout: window.ogshotReady still awaited"


def test_a_page_that_breaks_the_wait_is_still_rendered(engine: Engine, pages: PageServer) -> None:
    """A page whose scripts throw and replace what the wait uses is a fact about the page:
    it is rendered, its readiness says so, and the same browser renders the next page."""
    pages.files["green.png"] = green_png()
    pages.files["broken.html"] = page(
        GREEN_SCREEN.format('<img src="/files/green.png">')
        + "<script>Element.prototype.getBoundingClientRect = null;"
        " throw new Error('the page itself fails');</script>"
    )
    image, taken = render(engine, pages, "broken.html")
    assert_centre(image, GREEN)
    assert taken.readiness.startswith("error: "), taken.readiness
    pages.files["after.html"] = page('<div style="height: 630px; background: #112233"></div>')
    image, taken = render(engine, pages, "after.html")
    assert_centre(image, DARK)
    assert taken.readiness == "ready"


TALL = page(
    '<div style="height: 2000px; background: #ff0000"></div>'
    '<div id="below" style="height: 2000px; background: #00a000"></div>'
)


@pytest.mark.parametrize("smooth", [False, True])
def test_a_fragment_is_jumped_to_even_right_after_the_same_page(
    engine: Engine, pages: PageServer, smooth: bool
) -> None:
    """page#below right after page: a fresh load, scrolled to #below at once, also where
    the page asks for smooth scrolling."""
    name = "smooth.html" if smooth else "tall.html"
    pages.files[name] = TALL.replace(
        b"</style>", b"html { scroll-behavior: smooth; }</style>" if smooth else b"</style>"
    )
    top = shot(engine, pages, name)
    assert close_to(top.getpixel((600, 315)), (255, 0, 0)), top.getpixel((600, 315))
    before = pages.count(f"/files/{name}")
    below = shot(engine, pages, f"{name}#below")
    assert close_to(below.getpixel((600, 315)), GREEN), below.getpixel((600, 315))
    assert pages.count(f"/files/{name}") == before + 1  # loaded afresh


def test_nothing_of_one_render_reaches_the_next(engine: Engine, pages: PageServer) -> None:
    """Cookies, local storage, the Cache API and service workers a page left behind are
    gone at the next render."""
    pages.files["sw.js"] = b"self.addEventListener('fetch', () => {});"
    pages.files["state.html"] = page(
        "<script>(async () => {"
        " const cached = await caches.has('ogshot-test');"
        " const workers = (await navigator.serviceWorker.getRegistrations()).length;"
        " document.title = [document.cookie || 'no cookie',"
        "   localStorage.getItem('seen') || 'no storage', cached ? 'cache' : 'no cache',"
        "   workers ? 'worker' : 'no worker'].join('|');"
        " document.cookie = 'seen=1; max-age=3600'; localStorage.setItem('seen', '1');"
        " await caches.open('ogshot-test');"
        " await navigator.serviceWorker.register('/files/sw.js');"
        " await navigator.serviceWorker.ready;"
        " window.ogshotReady = true; })(); window.ogshotReady = false;</script>"
    )
    first = render(engine, pages, "state.html")[1]
    assert first.title == "no cookie|no storage|no cache|no worker"
    assert first.readiness == "ready"  # the service worker was registered
    assert render(engine, pages, "state.html")[1].title == first.title


def test_a_popup_is_blocked_and_never_covers_the_next_page(
    engine: Engine, pages: PageServer
) -> None:
    """window.open without a click opens nothing: the popup's page is never loaded, and the
    next render shows its own page (Firefox drew the popup's tab instead, once opened)."""
    pages.files["popup.html"] = page("", "body { background: #112233; }")
    opener = "<script>window.open('/files/popup.html')</script>"
    pages.files["opener.html"] = page(GREEN_SCREEN.format("") + opener)
    pages.files["after-popup.html"] = page(GREEN_SCREEN.format(""))
    assert_centre(shot(engine, pages, "opener.html"), GREEN)
    assert_centre(shot(engine, pages, "after-popup.html"), GREEN)
    assert pages.count("/files/popup.html") == 0


def test_the_http_cache_of_one_render_is_not_used_by_the_next(
    engine: Engine, pages: PageServer
) -> None:
    """An image the server lets browsers keep for an hour is fetched again at the next render."""
    pages.files["kept.png"] = green_png()
    # Two pages: Chromium revalidates what a page loads when the same URL is loaded again.
    pages.files["kept.html"] = pages.files["again.html"] = page(
        '<img src="/files/kept.png?cache=1">'
    )
    before = pages.count("/files/kept.png")
    for name in ("kept.html", "again.html"):
        render(engine, pages, name)
    assert pages.count("/files/kept.png") == before + 2


PAGES = Path(__file__).parent.parent / "pages"
BANNER = (248, 248, 248)  # OneTrust's banner background in the copied page


def test_a_consent_banner_is_refused_and_out_of_the_image(
    engine: Engine, pages: PageServer
) -> None:
    """OneTrust's banner, as served to visitors: autoconsent clicks "Reject All" (the page's
    own handler records the refusal), and neither the banner nor its dark filter shows."""
    pages.files["onetrust.html"] = (PAGES / "onetrust.html").read_bytes()
    image, taken = render(engine, pages, "onetrust.html")
    assert taken.title == "Scoreboard: cookies rejected"
    for y in (100, 315, 600):  # under the dark filter; under the banner at the bottom
        assert close_to(image.getpixel((600, y)), DARK), (y, image.getpixel((600, y)))
    assert taken.readiness == "ready"


@pytest.mark.parametrize("name", ["firefox", "chromium"])
def test_with_hide_consent_off_the_banner_is_rendered(name: str, pages: PageServer) -> None:
    """OGSHOT_HIDE_CONSENT=0: the banner is shown as a first-time visitor sees it."""
    for binary in BINARIES[name]:
        require(binary)
    pages.files["onetrust.html"] = (PAGES / "onetrust.html").read_bytes()
    running = make_engine(name, render_timeout=10, hide_consent=False)
    try:
        image, taken = render(running, pages, "onetrust.html")
    finally:
        running.close()
    assert taken.title == "Scoreboard"
    assert close_to(image.getpixel((600, 600)), BANNER), image.getpixel((600, 600))


def test_a_missing_autoconsent_stops_the_engine_saying_how_to_install_it(tmp_path: Path) -> None:
    """Without its autoconsent a worker would render banners silently: it does not start."""
    with pytest.raises(BrowserError, match="scripts/install-autoconsent"):
        load_autoconsent(tmp_path / "missing.js")


def test_the_png_has_no_alpha_channel(engine: Engine, pages: PageServer) -> None:
    """A page is opaque: its PNG carries RGB only (Firefox's own screenshots carry RGBA,
    10-20% larger)."""
    png = engine.screenshot(pages.url("/page/opaque"), 1200, 630, 1).png
    assert Image.open(io.BytesIO(png)).mode == "RGB"
