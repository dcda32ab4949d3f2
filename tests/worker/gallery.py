"""A gallery of real-looking pages, one for each thing a render must get right (content a
script fetched, lazy images, animations ended, web fonts, a consent banner, the full width,
fragments, dark mode, hide, an element capture, a late fetch, a chart, a placeholder), and
reference images of each taken by the engines as they were before renders ran concurrently
(issue 27): tests/worker/test_gallery.py renders each again and compares pixel for pixel.

Make the references again only when a render is meant to change, and look at each:

    .venv/bin/python -m tests.worker.gallery tests/worker/gallery
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

from worker.engines import PLAIN, PageOptions

HERE = Path(__file__).parent
REFERENCES = HERE / "gallery"
ONETRUST = HERE.parent / "pages" / "onetrust.html"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")

STYLE = (
    "html, body { margin: 0; font-family: 'DejaVu Sans', sans-serif; color: #1b2330; }"
    " header { background: #12305a; color: #fff; padding: 18px 32px; font-size: 28px; }"
    " main { padding: 24px 32px; font-size: 22px; line-height: 1.4; }"
    " table { border-collapse: collapse; width: 100%; font-size: 26px; }"
    " td { border-bottom: 2px solid #d8dde6; padding: 10px 6px; }"
    " td.n { text-align: right; font-weight: bold; }"
)


def page(body: str, style: str = "", title: str = "Scoreboard") -> bytes:
    """A page of the scoreboard site: its header, ``body``, the site's style and ``style``."""
    head = f"<meta charset='utf-8'><title>{title}</title><style>{STYLE} {style}</style>"
    header = "<header>Riverside League &middot; Live scores</header>"
    return f"<!doctype html><html><head>{head}</head><body>{header}{body}</body></html>".encode()


ROWS = [("Harbour FC", 3), ("North End", 2), ("Old Town United", 1), ("Castle Rovers", 0)]


def _table(rows: list[tuple[str, int]]) -> str:
    cells = "".join(f"<tr><td>{team}</td><td class='n'>{score}</td></tr>" for team, score in rows)
    return f"<table>{cells}</table>"


def _hero_png() -> bytes:
    """A 1200x360 photograph-like hero: a sky gradient over a green pitch with its lines."""
    image = Image.new("RGB", (1200, 360))
    draw = ImageDraw.Draw(image)
    for y in range(200):
        draw.line([(0, y), (1199, y)], fill=(70 + y // 4, 130 + y // 5, 200))
    draw.rectangle([0, 200, 1199, 359], fill=(40, 140, 60))
    draw.line([(600, 200), (600, 359)], fill=(240, 240, 240), width=4)
    draw.ellipse([520, 240, 680, 340], outline=(240, 240, 240), width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _consent() -> bytes:
    """OneTrust's banner (tests/pages/onetrust.html) over a scoreboard."""
    board = ("<div class='board' style='padding: 24px 32px'><h1>Harbour FC 3 &ndash; 2 North"
             " End</h1><p>Full time at the Riverside ground.</p></div>")  # fmt: skip
    return ONETRUST.read_bytes().replace(b'<div class="board"></div>', board.encode())


SPA = page(
    "<main id='app'></main><script>"
    "fetch('/files/spa.json?delay=0.3').then(r => r.json()).then(rows => {"
    " app.innerHTML = '<h1>Saturday, round 12</h1><table>' + rows.map(([t, n]) =>"
    " `<tr><td>${t}</td><td class=n>${n}</td></tr>`).join('') + '</table>'; });"
    "</script>"
)
LAZY = page(
    "<img loading='lazy' src='/files/hero.png?delay=0.4' width='1200' height='360' alt=''>"
    "<main><b>Match report.</b> Harbour FC came back from two goals down to win in the last"
    " minute, in front of a full stand on a cold evening by the river.</main>",
    "img { display: block; }",
)
FADE = page(
    "<main class='in'><h1>Harbour FC 3 &ndash; 2 North End</h1>"
    "<p>Full time. A late winner settles a derby that had everything.</p></main>",
    "@keyframes in { from { opacity: 0; transform: translateY(40px); }"
    " to { opacity: 1; transform: none; } } .in { animation: in 3s ease-out; }",
)
FONT_PAGE = page(
    "<main><h1 class='serif'>The Riverside Gazette</h1>"
    "<p class='serif'>Derby day: the league's oldest rivals meet for the 150th time.</p></main>",
    "@font-face { font-family: Gazette; src: url('/files/gazette.ttf?delay=0.8');"
    " font-display: block; } .serif { font-family: Gazette; } h1 { font-size: 56px; }",
)
TALL = page(
    "<main><h1>Season table</h1>" + _table(ROWS * 12) + "</main>",
    "header { position: sticky; top: 0; }",
)
# Every length above #results is whole pixels: a target at a fractional offset was scrolled to
# one pixel apart from run to run in Firefox.
FRAGMENT = page(
    "<main><h1>Fixtures</h1><div style='height: 1800px; background: #eef1f5'></div>"
    "<h2 id='results'>Results</h2>" + _table(ROWS) + "<div style='height: 900px'></div></main>",
    "header { line-height: 36px; } main { line-height: 30px; }"
    " h1, h2 { margin: 20px 0; line-height: 40px; }",
)
DARK = page(
    "<main><h1>Tonight</h1>" + _table(ROWS[:3]) + "</main>",
    "@media (prefers-color-scheme: dark) { body { background: #0f141c; color: #e6ebf2; }"
    " header { background: #263a5c; } td { border-color: #35425a; } }",
)
HIDE = page(
    "<main><h1>Harbour FC 3 &ndash; 2 North End</h1>" + _table(ROWS[:2]) + "</main>"
    "<div class='chat'>Chat with us!</div><div class='promo'>Get 50% off season tickets</div>",
    ".chat { position: fixed; right: 24px; bottom: 24px; width: 260px; height: 90px;"
    " background: #e0245e; color: #fff; border-radius: 16px; padding: 16px; }"
    " .promo { position: fixed; left: 0; right: 0; top: 200px; height: 120px;"
    " background: #ffcc00; font-size: 40px; text-align: center; line-height: 120px; }",
)
SELECTOR = page(
    "<main><div id='card'><h2>Harbour FC</h2><p class='big'>3 &ndash; 2</p>"
    "<p>North End &middot; full time</p></div><p>More results below.</p></main>",
    "#card { width: 520px; padding: 24px; border-radius: 18px; background: #12305a;"
    " color: #fff; } .big { font-size: 64px; margin: 0; }",
)
LATE_FETCH = page(
    "<main><h1>Live</h1><div id='score'>&nbsp;</div></main><script>"
    "addEventListener('load', () => setTimeout(() => fetch('/files/live.json?delay=0.7')"
    ".then(r => r.json()).then(s => { score.textContent = s.text; }), 200));</script>",
    "#score { font-size: 72px; font-weight: bold; }",
)
CHART = page(
    "<main><h1>Goals per round</h1><canvas id='c' width='1100' height='380'></canvas></main>"
    "<script>const g = c.getContext('2d'); const bars = [3, 5, 2, 6, 4, 7, 5];"
    " let start = null; const frame = now => { if (start === null) start = now;"
    " const t = Math.min(1, (now - start) / 1000); g.clearRect(0, 0, 1100, 380);"
    " bars.forEach((b, i) => { const h = b * 50 * t; g.fillStyle = '#2f6fd6';"
    " g.fillRect(30 + i * 150, 370 - h, 100, h); });"
    " if (t < 1) requestAnimationFrame(frame); };"
    " addEventListener('load', () => requestAnimationFrame(frame));</script>",
)
PLACEHOLDER = page(
    "<main aria-busy='true'><div class='skeleton title'></div><div class='skeleton'></div>"
    "<div class='skeleton'></div><div class='skeleton short'></div></main>",
    ".skeleton { height: 28px; margin: 18px 0; background: #e3e7ee; border-radius: 8px; }"
    " .title { height: 48px; width: 60%; } .short { width: 40%; }",
)


@dataclass(frozen=True)
class Exhibit:
    """One gallery page: the files it needs (served under /files/), what is rendered and how."""

    name: str
    files: dict[str, bytes]
    path: str  # under /files/
    page: PageOptions = PLAIN
    scale: int = 1


# A channel may differ this much where the CPU's rasterizer rounds otherwise (anti-aliased
# edges), on at most this share of the pixels: a missing element, a banner left in place, an
# animation caught midway or a fallback font changes far more, and far more strongly.
NOISE, NOISY_SHARE = 24, 0.002


def differing(image: Image.Image, expected: Image.Image) -> int:
    """How many pixels of ``image`` differ from ``expected`` by more than NOISE."""
    difference = ImageChops.difference(image, expected).convert("L")
    return sum(difference.point(lambda v: 255 if v > NOISE else 0).histogram()[255:])


def exhibits() -> list[Exhibit]:
    """Every page of the gallery."""
    return [
        Exhibit("spa", {"spa.html": SPA, "spa.json": b'[["Harbour FC", 3], ["North End", 2]]'},
                "spa.html"),
        Exhibit("lazy", {"lazy.html": LAZY, "hero.png": _hero_png()}, "lazy.html"),
        Exhibit("fade", {"fade.html": FADE}, "fade.html"),
        Exhibit("font", {"font.html": FONT_PAGE, "gazette.ttf": FONT.read_bytes()}, "font.html"),
        Exhibit("consent", {"onetrust.html": _consent()}, "onetrust.html"),
        Exhibit("tall", {"tall.html": TALL}, "tall.html"),
        Exhibit("fragment", {"fragment.html": FRAGMENT}, "fragment.html#results"),
        Exhibit("dark", {"dark.html": DARK}, "dark.html", PageOptions(dark=True)),
        Exhibit("hide", {"hide.html": HIDE}, "hide.html", PageOptions(hide=(".chat", ".promo"))),
        Exhibit("selector", {"selector.html": SELECTOR}, "selector.html",
                PageOptions(selector="#card"), scale=2),
        Exhibit("late-fetch", {"late.html": LATE_FETCH, "live.json": b'{"text": "3 - 2"}'},
                "late.html"),
        Exhibit("chart", {"chart.html": CHART}, "chart.html"),
        Exhibit("placeholder", {"placeholder.html": PLACEHOLDER}, "placeholder.html"),
    ]  # fmt: skip


def reference(engine: str, name: str) -> Path:
    """Where the reference image of ``name`` taken by ``engine`` is kept."""
    return REFERENCES / engine / f"{name}.png"


def _write(out: Path) -> None:
    """Render every exhibit in both engines and write the PNGs under ``out``."""
    from harness.servers import PageServer
    from worker.engines import make_engine

    server = PageServer("127.0.0.1")
    try:
        for engine_name in ("firefox", "chromium"):
            engine = make_engine(engine_name, render_timeout=20)
            try:
                for exhibit in exhibits():
                    server.files.update(exhibit.files)
                    url = server.url(f"/files/{exhibit.path}")
                    shot = engine.screenshot(url, 1200, 630, exhibit.scale, exhibit.page)
                    path = out / engine_name / f"{exhibit.name}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(shot.png)
                    print(f"{path}: {shot.readiness}")
            finally:
                engine.close()
    finally:
        server.close()


if __name__ == "__main__":
    _write(Path(sys.argv[1]))
