"""What the image shows, in both engines: the page as a person sees it a moment after it
opened (lazy images in place, animations ended, the page's own readiness flag), the full
width of the page, and a User-Agent that says ogshot without saying headless."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import PageServer, close_to
from worker.engines import PRODUCT_TOKEN, Engine

pytestmark = pytest.mark.browser
DARK = (17, 34, 51)
GREEN = (0, 160, 0)


def page(body: str, style: str = "") -> bytes:
    """A white page with ``body`` and ``style``."""
    head = f"<title>t</title><style>html, body {{ margin: 0; background: #fff; }} {style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def shot(engine: Engine, pages: PageServer, name: str) -> Image.Image:
    """Render /files/<name> at 1200x630 and return the image in RGB."""
    png = engine.screenshot(pages.url(f"/files/{name}"), 1200, 630, 1).png
    return Image.open(io.BytesIO(png)).convert("RGB")


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
