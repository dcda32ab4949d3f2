"""The quality gate in both engines: bot-check walls, blank pages and pages still loading are
rejected; real pages are kept, however sparse, and whatever widget, badge or quotation they
merely contain.

The walls and pages in tests/pages/challenges/ are described, with the source of each
marker, in its README.md. The widgets' scripts cannot load here (no internet); the served
markup is what is judged.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.helpers import PageServer
from worker.engines import Engine, Shot
from worker.quality import rejection

pytestmark = pytest.mark.browser
# With renders in flight beside each test's own (tests/worker/conftest.py) only where
# OGSHOT_TESTS_AT_ONCE=all, for the suite's time.
AT_ONCE: tuple[str, ...] = ()
CHALLENGES = Path(__file__).parent.parent / "pages" / "challenges"
WALLS = {
    "cloudflare.html": "cloudflare",
    "datadome.html": "datadome",
    "perimeterx.html": "perimeterx",
    "akamai.html": "akamai",
    "recaptcha.html": "recaptcha",
    "hcaptcha.html": "hcaptcha",
    "turnstile.html": "turnstile",
    "cloudflare-cached.html": "cloudflare",  # the older interstitial, no options object
    "confirm-wall.html": "hcaptcha",  # fine-confirm.html without the site's navigation
}
# Each wall's markers (README.md): with any one of them renamed, the others still tell.
MARKERS = {
    "cloudflare.html": [
        "_cf_chl_opt",
        "/orchestrate/",
        'id="challenge-stage"',
        'id="challenge-body-text"',
        "Ray ID",
    ],
    "cloudflare-cached.html": [
        'id="challenge-running"',
        'id="challenge-spinner"',
        'id="challenge-body-text"',
        "trk_jschal_js",
        "/cdn-cgi/images/trace/",
        "Ray ID",
    ],
    "datadome.html": ["ct.captcha-delivery.com/c.js", "var dd="],
    "perimeterx.html": ['id="px-captcha"', "/captcha/captcha.js", "_pxUuid", "Press &amp; Hold"],
    "akamai.html": ["Reference&#32;&#35;", "errors&#46;edgesuite&#46;net", "have permission"],
    "recaptcha.html": ['class="g-recaptcha"', 'id="captcha-form"', "recaptcha/api.js"],
    "hcaptcha.html": ['class="h-captcha"', "js.hcaptcha.com/1/api.js"],
    "turnstile.html": ['class="cf-turnstile"', "challenges.cloudflare.com/turnstile/v0/api.js"],
}
PAGES = [
    "fine-turnstile-form.html",  # a contact form with a Turnstile widget
    "fine-recaptcha-comments.html",  # an article whose comment form has a reCAPTCHA checkbox
    "fine-recaptcha-badge.html",  # an article with reCAPTCHA v3 and its badge
    "fine-quotation.html",  # "Just a moment..." quoted, with Cloudflare's let-through script
    "fine-confirm.html",  # a confirm page: an hCaptcha widget under the site's navigation
]


def render(engine: Engine, pages: PageServer, name: str, body: bytes | None = None) -> Shot:
    """Render ``body`` (default: tests/pages/challenges/<name>) at 1200x630."""
    pages.files[name] = body if body is not None else (CHALLENGES / name).read_bytes()
    return engine.screenshot(pages.url(f"/files/{name}"), 1200, 630, 1)


@pytest.mark.parametrize(("name", "family"), WALLS.items())
def test_a_bot_check_wall_is_rejected(
    engine: Engine, pages: PageServer, name: str, family: str
) -> None:
    """Each wall is recognised as its vendor's, by what it puts in the page."""
    taken = render(engine, pages, name)
    assert taken.challenge == family
    assert rejection(taken, check_blank=False) == f"bot challenge ({family})"


@pytest.mark.parametrize(
    ("name", "marker"), [(name, marker) for name, markers in MARKERS.items() for marker in markers]
)
def test_a_wall_is_still_recognised_with_one_marker_renamed(
    engine: Engine, pages: PageServer, name: str, marker: str
) -> None:
    """No wall hangs on one marker: with any one renamed, the others still tell its vendor."""
    served = (CHALLENGES / name).read_text()
    assert marker in served  # the marker is really there to rename
    renamed = served.replace(marker, "ogshot-renamed")
    taken = render(engine, pages, f"renamed-{name}", renamed.encode())
    assert taken.challenge == WALLS[name]


@pytest.mark.parametrize("name", PAGES)
def test_a_page_with_a_widget_or_a_quotation_is_kept(
    engine: Engine, pages: PageServer, name: str
) -> None:
    """A real page is never rejected for what it merely contains."""
    taken = render(engine, pages, name)
    assert taken.challenge == ""
    assert rejection(taken, check_blank=True) == ""


def shows(body: str, style: str = "") -> bytes:
    """A white page with ``body``."""
    return (
        f"<!doctype html><html><head><title>t</title><style>html, body {{ margin: 0; "
        f"background: #fff; font: 16px sans-serif; }} {style}</style></head>"
        f"<body>{body}</body></html>"
    ).encode()


# Pages a person reads although their pixels are almost all one colour.
SPARSE = {
    "holding": shows('<p style="margin: 300px 0; text-align: center">Back soon.</p>'),
    "status": shows('<p style="margin: 20px">All systems operational</p>'),
    "number": shows('<div style="font: 700 40px sans-serif; margin: 280px 560px">42</div>'),
    "landing": shows('<h1 style="font: 300 28px sans-serif; margin: 290px 500px">Acme.</h1>'),
}


@pytest.mark.parametrize("name", SPARSE)
def test_a_sparse_page_is_not_blank(engine: Engine, pages: PageServer, name: str) -> None:
    """One short line of text on white is a page: a person reads it."""
    taken = render(engine, pages, f"sparse-{name}.html", SPARSE[name])
    assert taken.content == "content"
    assert rejection(taken, check_blank=True) == ""


SPIN = "@keyframes spin { to { transform: rotate(1turn) } }"
CENTRE = "position: absolute; left: 580px; top: 295px; width: 40px; height: 40px;"
# What a page shows before it is ready, and nothing else.
PLACEHOLDERS = {
    "css-spinner": shows(
        '<div class="s"></div>',
        f".s {{ {CENTRE} border: 4px solid #ddd; border-top-color: #3b82f6;"
        f" border-radius: 50%; animation: spin 1s linear infinite; }} {SPIN}",
    ),
    "svg-spinner": shows(
        f'<svg style="{CENTRE}" viewBox="0 0 40 40"><circle cx="20" cy="20" r="16" fill="none" '
        'stroke="#3b82f6" stroke-width="4" stroke-dasharray="60 40"><animateTransform '
        'attributeName="transform" type="rotate" from="0 20 20" to="360 20 20" dur="1s" '
        'repeatCount="indefinite"/></circle></svg>'
    ),
    "image-spinner": shows(f'<img src="/files/spinner.png" alt="" style="{CENTRE}">'),
    "canvas-spinner": shows(
        f'<canvas id="c" width="40" height="40" style="{CENTRE}"></canvas><script>'
        "const g = c.getContext('2d'); let a = 0; (function turn() { g.clearRect(0, 0, 40, 40);"
        " g.beginPath(); g.arc(20, 20, 16, a, a + 4); g.lineWidth = 4; g.strokeStyle = '#3b82f6';"
        " g.stroke(); a += 0.2; requestAnimationFrame(turn); })();</script>"
    ),
    "progressbar": shows(
        f'<div role="progressbar" aria-valuenow="40" style="{CENTRE} width: 300px;'
        ' height: 8px; background: #ddd"></div>'
    ),
    "aria-busy": shows(
        '<main aria-busy="true" style="margin: 40px">'
        + '<div style="height: 20px; margin: 12px 0; background: #e5e7eb"></div>' * 8
        + "</main>"
    ),
    "skeleton": shows(
        '<div class="card skeleton" style="margin: 40px; width: 600px">'
        '<div class="skeleton-line" style="height: 180px; background: #e5e7eb"></div>'
        + '<div class="skeleton-line" style="height: 16px; margin-top: 14px; background: '
        '#e5e7eb; width: 80%"></div>' * 4 + "</div>"
    ),
    "loading-line": shows(
        '<p style="margin: 300px 0; text-align: center">Loading<span>…</span></p>'
    ),
    "please-wait": shows('<div id="app"><p style="margin: 20px">Please wait...</p></div>'),
    # The page is there, under a preloader that covers it and has not gone away.
    "preloader": shows(
        "<h1>Live scores</h1><p>Home 3-1 Away</p>"
        '<div id="preloader" style="position: fixed; inset: 0; background: #fff">'
        f'<div class="s" style="{CENTRE} border: 4px solid #3b82f6; border-radius: 50%;'
        ' animation: spin 1s linear infinite"></div></div>',
        SPIN,
    ),
}


def spinner_png() -> bytes:
    """A 40x40 blue ring, as a loading GIF's first frame would be."""
    out = io.BytesIO()
    ring = Image.new("RGB", (40, 40), (255, 255, 255))
    ImageDraw.Draw(ring).ellipse((4, 4, 36, 36), outline=(59, 130, 246), width=4)
    ring.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_a_page_that_shows_only_a_placeholder_is_rejected(
    engine: Engine, pages: PageServer, name: str
) -> None:
    """A spinner of any kind, a progress bar, a busy region, a skeleton screen or a lone
    "Loading..." line is a page not yet there; with the gate off it is kept."""
    pages.files["spinner.png"] = spinner_png()
    taken = render(engine, pages, f"{name}.html", PLACEHOLDERS[name])
    assert taken.content == "placeholder"
    assert rejection(taken, check_blank=True) == "loading placeholder"
    assert rejection(taken, check_blank=False) == ""


def test_a_placeholder_beside_content_is_a_page(engine: Engine, pages: PageServer) -> None:
    """A spinner in a corner of a page that has its text is no reason to reject it."""
    body = PLACEHOLDERS["css-spinner"].replace(b"<body>", b"<body><p>Scores: 3-1, 0-0</p>")
    taken = render(engine, pages, "spinner-and-text.html", body)
    assert taken.content == "content"
    assert rejection(taken, check_blank=True) == ""


@pytest.mark.parametrize(
    "body", ["", '<div id="root"></div>', '<div id="app" style="height: 100vh"></div>']
)
def test_an_empty_body_or_application_root_is_blank(
    engine: Engine, pages: PageServer, body: str
) -> None:
    """Nothing of the page's own and one colour: blank."""
    taken = render(engine, pages, "empty.html", shows(body))
    assert taken.content == "empty"
    assert rejection(taken, check_blank=True) == "blank page"


SPINNER = (
    "<style>html, body { margin: 0; background: #fff; height: 100%; }"
    " .b { position: fixed; inset: 0; border: 1px solid #ccc; }"
    " .s { position: absolute; left: 580px; top: 295px; width: 32px; height: 32px;"
    " border: 4px solid #ddd; border-top-color: #3b82f6; border-radius: 50%;"
    " animation: spin 1s linear infinite; } @keyframes spin { to { transform: rotate(1turn) } }"
    '</style><div class="b"></div><div class="s"></div>'
)
TEXT = (
    "<style>html, body { margin: 0; background: #fff; font: 16px sans-serif; }</style>"
    + "<p>The home side led at the break and held on through a long second half.</p>" * 3
)


def test_a_page_of_a_spinner_and_a_border_is_rejected(engine: Engine, pages: PageServer) -> None:
    """A white page with only a spinner and a thin border is not there yet; with the gate off
    it is kept (a site whose previews really are one colour)."""
    taken = render(engine, pages, "spinner.html", SPINNER.encode())
    assert Image.open(io.BytesIO(taken.png)).size == (1200, 630)
    assert rejection(taken, check_blank=True) == "loading placeholder"
    assert rejection(taken, check_blank=False) == ""


def test_a_page_of_three_lines_is_not_blank(engine: Engine, pages: PageServer) -> None:
    """A little text is a page."""
    taken = render(engine, pages, "three-lines.html", TEXT.encode())
    assert rejection(taken, check_blank=True) == ""
