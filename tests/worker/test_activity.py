"""Readiness waits for the work a page has started after load, in both engines: a request a
timer or a framework's boot starts a moment later, a chain of requests, content an idle
callback inserts, a canvas chart's entry animation and a count-up number drawn frame by
frame or stepped by a frame loop; and not for what never makes the page ready: an endless
animation loop is captured at the end of the budget, a clock (ticked by a timer or by a frame
loop) does not hold the wait. How the wait ended is read from what
goes into the image's metadata (Shot.readiness, Shot.waited), never from the time it took."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import PageServer, close_to
from worker.engines import Engine, Shot

pytestmark = pytest.mark.browser
# Each test also with renders in flight beside its own (tests/worker/conftest.py): in
# Firefox here, each engine in some modules for the suite's time;
# OGSHOT_TESTS_AT_ONCE=all runs both.
AT_ONCE = ("firefox",)
GREEN = (0, 160, 0)
BLUE = (30, 90, 200)


def page(body: str) -> bytes:
    """A white page whose first screen is the element #board, with ``body`` after it."""
    return (
        "<!doctype html><html><head><title>t</title><style>html, body { margin: 0; "
        "background: #fff; font: 16px sans-serif; } #board { height: 630px; }</style></head>"
        f'<body><div id="board">Loading…</div>{body}</body></html>'
    ).encode()


def render(engine: Engine, pages: PageServer, name: str, body: bytes) -> tuple[Image.Image, Shot]:
    """Render ``body`` as /files/<name> at 1200x630."""
    pages.files[name] = body
    taken = engine.screenshot(pages.url(f"/files/{name}"), 1200, 630, 1)
    return Image.open(io.BytesIO(taken.png)).convert("RGB"), taken


# Turns the board green with the colour a JSON file says.
PAINT = (
    "r => r.json()).then(rows => { board.textContent = 'Home 3-1 Away'; "
    "board.style.background = rows.colour; }"
)


@pytest.mark.parametrize("after", [300, 800])
def test_a_request_a_timer_starts_after_load_is_waited_for(
    engine: Engine, pages: PageServer, after: int
) -> None:
    """A data request begun by a timer 300 ms or 800 ms after load (a framework booting) is
    in the image, although the network was quiet for longer than its window first."""
    pages.files["rows.json"] = b'{"colour": "#00a000"}'
    script = (
        "<script>addEventListener('load', () => setTimeout(() => "
        f"fetch('/files/rows.json?delay=0.2').then({PAINT}), {after}));</script>"
    )
    image, taken = render(engine, pages, f"timer-{after}.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"
    assert taken.waited


def test_a_chain_of_requests_is_waited_for(engine: Engine, pages: PageServer) -> None:
    """Two requests, the second asked for a moment after the first answered (a list, then
    its details), are both in the image."""
    pages.files["list.json"] = b'{"next": "/files/rows.json?delay=0.3"}'
    pages.files["rows.json"] = b'{"colour": "#00a000"}'
    script = ("<script>fetch('/files/list.json?delay=0.3').then(r => r.json()).then(list => "
              f"setTimeout(() => fetch(list.next).then({PAINT}), 150));</script>")  # fmt: skip
    image, taken = render(engine, pages, "chain.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"


def test_content_an_idle_callback_inserts_is_waited_for(engine: Engine, pages: PageServer) -> None:
    """A page that builds itself in idle-time chunks (a scheduler's way) is shown built."""
    script = (
        "<script>let left = 12; const chunk = () => { const until = performance.now() + 25;"
        " while (performance.now() < until) {} if (--left > 0) requestIdleCallback(chunk);"
        " else { board.textContent = 'Built'; board.style.background = '#00a000'; } };"
        " addEventListener('load', () => requestIdleCallback(chunk));</script>"
    )
    image, taken = render(engine, pages, "idle.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"


# A bar chart whose bars grow from the axis over 1 s, drawn frame by frame on a canvas (what
# Chart.js's entry animation does); each bar ends 500 px tall, its top at y=565-500=65.
CHART = page(
    '<canvas id="chart" width="1200" height="630" style="position: absolute; top: 0; left: 0">'
    "</canvas><script>board.textContent = ''; const g = chart.getContext('2d');"
    " const ease = t => 1 - Math.pow(1 - t, 3); let start = null;"
    " const frame = now => { if (start === null) start = now;"
    " const t = Math.min(1, (now - start) / 1000); g.clearRect(0, 0, 1200, 630);"
    " g.fillStyle = 'rgb(30, 90, 200)';"
    " for (let i = 0; i < 6; i++) { const h = 500 * ease(t); g.fillRect(100 + i * 180, 565 - h,"
    " 120, h); } if (t < 1) requestAnimationFrame(frame); };"
    " addEventListener('load', () => requestAnimationFrame(frame));</script>"
)


def test_a_chart_drawn_frame_by_frame_is_captured_at_its_end(
    engine: Engine, pages: PageServer
) -> None:
    """A canvas chart's 1 s entry animation is over in the image: its bars at full height."""
    image, taken = render(engine, pages, "chart.html", CHART)
    for x in (160, 700, 1060):
        assert close_to(image.getpixel((x, 70)), BLUE), (x, image.getpixel((x, 70)))
    assert taken.readiness == "ready"
    assert taken.waited == "drawing on a canvas"


# How far a count-up over a second has gone, t in [0, 1], at ``now - start`` ms: smoothly,
# or in five steps 200 ms apart (its frames come every 16 ms, the page changes only at each
# step: as a loaded machine's frames come further apart than the quiet window).
PACES = {"smooth": "(now - start) / 1000", "stepped": "Math.floor((now - start) / 200) / 5"}


@pytest.mark.parametrize("pace", PACES)
def test_a_count_up_number_is_captured_at_its_end(
    engine: Engine, pages: PageServer, pace: str
) -> None:
    """A score that counts up to 1000 over a second (a scoreboard's flourish), frame by frame
    or in steps of a frame loop, shows 1000, not a number on its way."""
    script = (
        "<script>let start = null; const frame = now => { if (start === null) start = now;"
        f" const t = Math.min(1, {PACES[pace]}); const n = String(Math.round(1000 * t));"
        " if (board.textContent !== n) { board.textContent = n; document.title = n; }"
        " if (t < 1) requestAnimationFrame(frame); };"
        " addEventListener('load', () => requestAnimationFrame(frame));</script>"
    )
    _image, taken = render(engine, pages, f"count-{pace}.html", page(script))
    assert taken.title == "1000"
    assert taken.readiness == "ready"
    assert taken.waited == "changes to the page"


def test_a_clock_a_frame_loop_ticks_does_not_hold_the_wait(
    engine: Engine, pages: PageServer
) -> None:
    """A clock that a frame loop ticks once a second (its frames run on for ever) is no work
    towards being ready: the page is ready, not held until the end of the budget."""
    script = (
        "<script>board.style.background = '#00a000'; let shown = '';"
        " const frame = () => { const s = String(Math.floor(Date.now() / 1000));"
        " if (s !== shown) { shown = s; document.title = s; } requestAnimationFrame(frame); };"
        " requestAnimationFrame(frame);</script>"
    )
    image, taken = render(engine, pages, "frame-clock.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"


def test_an_endless_animation_loop_is_captured_at_the_end_of_the_budget(
    engine: Engine, pages: PageServer
) -> None:
    """A particle background that draws every frame forever does not hold the render past
    OGSHOT_READY_TIMEOUT: it is captured then, and the readiness says what kept it busy."""
    script = (
        '<canvas id="sky" width="1200" height="630" style="position: absolute; top: 0">'
        "</canvas><script>const g = sky.getContext('2d'); let i = 0; const frame = () => {"
        " g.fillStyle = 'rgb(0, 160, 0)'; g.fillRect(0, 0, 1200, 630); g.fillStyle = '#fff';"
        " g.fillRect((i++ * 7) % 1200, 300, 4, 4); requestAnimationFrame(frame); };"
        " requestAnimationFrame(frame);</script>"
    )
    image, taken = render(engine, pages, "particles.html", page(script))
    assert close_to(image.getpixel((100, 100)), GREEN), image.getpixel((100, 100))
    assert taken.readiness == "timeout: the page's activity (drawing on a canvas) still awaited"


def test_a_clock_does_not_hold_the_wait(engine: Engine, pages: PageServer) -> None:
    """A clock that ticks every second with setInterval changes the page, but is no work
    towards being ready: the page is ready at once."""
    script = ("<script>board.textContent = 'Scores'; board.style.background = '#00a000';"
              " setInterval(() => { document.title = new Date().toISOString(); }, 1000);"
              " setInterval(() => navigator.sendBeacon && 0, 250);</script>")  # fmt: skip
    image, taken = render(engine, pages, "clock.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"
    assert taken.waited == ""


def test_a_page_that_opens_dialogs_is_rendered(engine: Engine, pages: PageServer) -> None:
    """alert(), confirm() and prompt() at load (a "please log in" page) are answered as a
    visitor who dismisses them would, and do not fail the render; the next page renders."""
    script = ("<script>alert('please log in'); if (!confirm('sure?')) board.textContent = 'No';"
              " prompt('name?'); board.style.background = '#00a000';"
              " setTimeout(() => alert('again'), 100);</script>")  # fmt: skip
    image, taken = render(engine, pages, "dialogs.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"
    image, _ = render(engine, pages, "after-dialogs.html", page(""))
    assert close_to(image.getpixel((600, 315)), (255, 255, 255))


def test_a_request_that_was_never_sent_does_not_hold_the_wait(
    engine: Engine, pages: PageServer
) -> None:
    """An XHR whose send() throws (it was never opened) is no request in flight."""
    script = (
        "<script>try { new XMLHttpRequest().send(); } catch (e) {}"
        " board.textContent = 'Ready'; board.style.background = '#00a000';</script>"
    )
    image, taken = render(engine, pages, "unsent.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"


def test_a_page_that_sends_the_browser_elsewhere_while_loading_is_waited_for_once(
    engine: Engine, pages: PageServer
) -> None:
    """A script that sets location.href while its page is still loading (a "please log in"
    bounce) leaves the first page's requests cancelled: they are not waited for, and the page
    it went to is rendered, ready."""
    pages.files["target.html"] = page("<script>board.style.background = '#00a000';</script>")
    pages.files["slow.png"] = b"x"
    images = "".join(f'<img src="/files/slow.png?delay=0.5&n={i}">' for i in range(4))
    script = f"{images}<script>location.href = '/files/target.html';</script>"
    image, taken = render(engine, pages, "bounce.html", page(script))
    assert close_to(image.getpixel((600, 315)), GREEN), image.getpixel((600, 315))
    assert taken.readiness == "ready"
