"""The image URL's render options in both engines: wait_for, delay, hide, selector (element
capture, compared pixel for pixel with the element's colour and size) and dark."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import PageServer, close_to
from worker.engines import Engine, PageOptions, RenderFailed, Shot

pytestmark = pytest.mark.browser
# Each test also with renders in flight beside its own (tests/worker/conftest.py): in
# Firefox here, each engine in some modules for the suite's time;
# OGSHOT_TESTS_AT_ONCE=all runs both.
AT_ONCE = ("firefox",)
WHITE, GREEN, DARK, RED = (255, 255, 255), (0, 160, 0), (17, 34, 51), (220, 0, 0)


def page(body: str, style: str = "") -> bytes:
    """A white page with ``body`` and ``style``."""
    head = f"<title>t</title><style>html, body {{ margin: 0; background: #fff; }} {style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def render(
    engine: Engine, pages: PageServer, name: str, body: bytes, scale: int = 1, **options: object
) -> tuple[Image.Image, Shot]:
    """Render ``body`` as /files/<name> at 1200x630 with ``options``."""
    pages.files[name] = body
    taken = engine.screenshot(
        pages.url(f"/files/{name}"),
        1200,
        630,
        scale,
        PageOptions(**options),  # type: ignore[arg-type]
    )
    return Image.open(io.BytesIO(taken.png)).convert("RGB"), taken


def at(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    """The colour of one pixel."""
    return image.getpixel((x, y))  # type: ignore[return-value]


LATE_BOARD = page(
    "<script>setTimeout(() => { document.body.innerHTML = '<table id=board><tr><td>3</td>"
    "</tr></table>'; document.documentElement.style.background = '#00a000'; }, 2000);</script>"
)


def test_wait_for_renders_once_the_element_is_shown(engine: Engine, pages: PageServer) -> None:
    """A table a script adds 2 s after load (later than readiness waits for a page's timers)
    is in the image with wait_for, not without."""
    without, _ = render(engine, pages, "board.html", LATE_BOARD)
    assert close_to(at(without, 600, 315), WHITE)
    waited, taken = render(engine, pages, "board.html", LATE_BOARD, wait_for="#board tr")
    assert close_to(at(waited, 600, 315), GREEN)
    assert taken.readiness == "ready"


def test_wait_for_that_never_shows_fails_the_render(engine: Engine, pages: PageServer) -> None:
    """An element that never appears (or stays hidden) fails the render, saying which."""
    hidden = page('<div id="late" style="visibility: hidden">x</div>')
    for selector in ("#never", "#late"):
        with pytest.raises(RenderFailed, match="wait_for"):
            render(engine, pages, "never.html", hidden, wait_for=selector)


def test_delay_waits_after_the_page_is_ready(engine: Engine, pages: PageServer) -> None:
    """A page that turns green 1.5 s after load (later than readiness waits for a page's
    timers) is green with a delay of 2 s."""
    body = page("<script>setTimeout(() => document.body.style.background = '#00a000', 1500)"
                "</script>", "body { height: 100vh; }")  # fmt: skip
    assert close_to(at(render(engine, pages, "later.html", body)[0], 600, 315), WHITE)
    delayed = render(engine, pages, "later.html", body, delay=2.0)[0]
    assert close_to(at(delayed, 600, 315), GREEN)


def test_hide_takes_selector_lists_as_css_reads_them(engine: Engine, pages: PageServer) -> None:
    """``.chat,.promo``, ``:is(a, b)`` and ``[title="a,b"]`` each hide what they match,
    elements a script adds later too; the rest stays."""
    body = page(
        '<div class="chat"></div><div class="promo"></div><div class="keep"></div>'
        '<p class="x"></p><div title="a,b" class="t"></div>'
        "<script>setTimeout(() => { const d = document.createElement('div');"
        " d.className = 'chat late'; document.body.append(d); }, 300);</script>",
        "div, p { position: fixed; width: 100px; height: 100px; margin: 0; background: #dc0000; }"
        " .chat { left: 0; top: 0; } .promo { left: 200px; top: 0; } .keep { left: 400px; top: 0; }"
        " .x { left: 600px; top: 0; } .t { left: 800px; top: 0; } .late { left: 1000px; top: 0; }",
    )
    hide = (".chat,.promo", ":is(p.x, span.y)", '[title="a,b"]')
    image, _ = render(engine, pages, "hide.html", body, hide=hide, delay=0.5)
    for x in (50, 250, 650, 850, 1050):
        assert close_to(at(image, x, 50), WHITE), x
    assert close_to(at(image, 450, 50), RED)


CARD = page(
    '<div id="card"></div>',
    "body { height: 3000px; } #card { position: absolute; left: 50px; top: 900px;"
    " width: 300px; height: 200px; background: #112233; }",
)


@pytest.mark.parametrize("scale", [1, 2])
def test_selector_captures_the_element_box(engine: Engine, pages: PageServer, scale: int) -> None:
    """The image is the element's box (below the first screen here), at the scale asked,
    every pixel the element's colour."""
    image, taken = render(engine, pages, "card.html", CARD, scale=scale, selector="#card")
    assert image.size == (300 * scale, 200 * scale)
    assert not taken.clipped
    colours = image.getcolors(16)
    assert colours is not None
    assert len(colours) == 1
    assert close_to(colours[0][1], DARK, tolerance=2)


def test_a_larger_element_is_clipped(engine: Engine, pages: PageServer) -> None:
    """An element taller than 2400 pixels is cut to 2400, and the shot says so."""
    tall = page(
        '<div id="tall"></div>', "#tall { width: 500px; height: 3000px; background: #123; }"
    )
    image, taken = render(engine, pages, "tall.html", tall, selector="#tall")
    assert image.size == (500, 2400)
    assert taken.clipped


def test_a_missing_element_fails_the_render(engine: Engine, pages: PageServer) -> None:
    """A selector that matches nothing fails the render with that reason."""
    with pytest.raises(RenderFailed, match="selector"):
        render(engine, pages, "card.html", CARD, selector="#no-such-card")


def test_dark_is_seen_by_the_page_and_only_when_asked(engine: Engine, pages: PageServer) -> None:
    """prefers-color-scheme: dark with dark, light again at the next render without it."""
    body = page("", "@media (prefers-color-scheme: dark) { html, body { background: #112233; } }")
    assert close_to(at(render(engine, pages, "dark.html", body, dark=True)[0], 600, 315), DARK)
    assert close_to(at(render(engine, pages, "dark.html", body)[0], 600, 315), WHITE)
