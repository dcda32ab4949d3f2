"""The quality gate in both engines: bot-check walls and blank pages are rejected, real pages
that merely contain a widget, a badge or a quotation are not.

The walls in tests/pages/challenges/ are modelled on what each vendor serves:
- cloudflare.html: Cloudflare's managed challenge ("Just a moment..."), as captured from
  chatgpt.com in public bug reports (options object, orchestrate script, noscript text);
- datadome.html: DataDome's block response (the ``dd`` object and ct.captcha-delivery.com's
  c.js, which then frames geo.captcha-delivery.com/captcha/);
- perimeterx.html: HUMAN's (PerimeterX) block page from its enforcer templates ("Press &
  Hold", ``#px-captcha``, the ``_px`` globals, the first-party captcha.js);
- akamai.html: Akamai's edge "Access Denied", byte for byte as its servers send it (numeric
  entities, reference number, errors.edgesuite.net);
- recaptcha.html: Google's "unusual traffic" page (/sorry), a reCAPTCHA v2 checkbox wall;
- hcaptcha.html, turnstile.html: a site's verification wall built the way hCaptcha's and
  Turnstile's documentation show (implicit rendering: the widget ``div`` and api.js).
The widgets' scripts cannot load here (no internet); the served markup is what is judged.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import PageServer
from worker.engines import Engine, Shot
from worker.quality import rejection

pytestmark = pytest.mark.browser
CHALLENGES = Path(__file__).parent.parent / "pages" / "challenges"
WALLS = {
    "cloudflare.html": "cloudflare",
    "datadome.html": "datadome",
    "perimeterx.html": "perimeterx",
    "akamai.html": "akamai",
    "recaptcha.html": "recaptcha",
    "hcaptcha.html": "hcaptcha",
    "turnstile.html": "turnstile",
}
PAGES = [
    "fine-turnstile-form.html",  # a contact form with a Turnstile widget
    "fine-recaptcha-comments.html",  # an article whose comment form has a reCAPTCHA checkbox
    "fine-recaptcha-badge.html",  # an article with reCAPTCHA v3 and its badge
    "fine-quotation.html",  # "Just a moment..." quoted, with Cloudflare's let-through script
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


@pytest.mark.parametrize("name", PAGES)
def test_a_page_with_a_widget_or_a_quotation_is_kept(
    engine: Engine, pages: PageServer, name: str
) -> None:
    """A real page is never rejected for what it merely contains."""
    taken = render(engine, pages, name)
    assert taken.challenge == ""
    assert rejection(taken, check_blank=True) == ""


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


def test_a_blank_page_is_rejected(engine: Engine, pages: PageServer) -> None:
    """A white page with only a spinner and a thin border is blank; with the gate off it is
    kept (a site whose previews really are one colour)."""
    taken = render(engine, pages, "spinner.html", SPINNER.encode())
    assert Image.open(io.BytesIO(taken.png)).size == (1200, 630)
    assert rejection(taken, check_blank=True) == "blank page"
    assert rejection(taken, check_blank=False) == ""


def test_a_page_of_three_lines_is_not_blank(engine: Engine, pages: PageServer) -> None:
    """A little text is a page."""
    taken = render(engine, pages, "three-lines.html", TEXT.encode())
    assert rejection(taken, check_blank=True) == ""
