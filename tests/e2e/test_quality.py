"""Last-known-good and the failure memo, end to end in each stack: a page that turns bad never
takes its good image away, and a broken page costs one render per OGSHOT_FAILURE_TTL, not
one per fetch."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import redis
import requests
from PIL import Image

from shared.index import ImageIndex
from shared.keys import RenderRequest
from tests.e2e.conftest import FAILURE_TTL, Stack
from tests.helpers import close_to

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
CHALLENGES = Path(__file__).parent.parent / "pages" / "challenges"
GOOD = (
    b"<!doctype html><title>Board</title><style>body { margin: 0; background: #fff;"
    b" font: 28px sans-serif; } header { background: #0b3d91; color: #fff; padding: 24px; }"
    b" td { padding: 8px 24px; border-bottom: 1px solid #ccc; }</style><header>Live board"
    b"</header><table><tr><td>Home</td><td>3</td></tr><tr><td>Away</td><td>2</td></tr></table>"
)
WALLS = ["cloudflare", "datadome", "perimeterx", "akamai", "recaptcha", "hcaptcha", "turnstile"]
BLANK = b"<!doctype html><title>Board</title><style>body { background: #fff; }</style>"
LOADING = b'<!doctype html><title>Board</title><div id="app" aria-busy="true">Loading...</div>'
# A holding page: one short line on white, which a person reads.
SPARSE = (
    b"<!doctype html><title>Board</title><style>body { margin: 0; background: #fff; }"
    b" p { margin: 300px 0; text-align: center; font: 18px sans-serif; }</style>"
    b"<p>Back at half time.</p><script>addEventListener('load', () => setTimeout(() =>"
    b" document.title = 'Board: back at half time', 500));</script>"
)


def prewarm(stack: Stack, url: str) -> dict[str, object]:
    """Force a re-render of ``url`` and wait for its job to end."""
    answer = stack.api("POST", "/api/prewarm", json={"urls": [url]})
    assert answer.status_code == 202, answer.text
    return stack.wait_job(str(answer.json()["jobs"][0]["id"]))


@pytest.mark.two_stacks  # the worker's and the store's rules, not an engine's
def test_a_page_that_turns_bad_keeps_its_good_image(stack: Stack) -> None:
    """After a good render, a blank page, a page still loading, bot-check walls
    (tests/pages/challenges/README.md says where each comes from) and a 503 are each
    rejected: the job fails with the reason and the good image is still served, byte for
    byte."""
    name = f"{stack.name}-turns-bad.html"
    url = stack.pages.url(f"/files/{name}")
    stack.pages.files[name] = GOOD
    good = requests.get(stack.image_url(url), timeout=60)
    assert good.headers["X-Ogshot-Cache"] == "miss"
    assert Image.open(io.BytesIO(good.content)).size == (1200, 630)
    # Each engine meets every wall: half of them in its filesystem stack, half in its S3 one.
    walls = WALLS[0::2] if stack.name.endswith("-fs") else WALLS[1::2]
    bad = [
        (BLANK, 200, "blank page"),
        (LOADING, 200, "loading placeholder"),
        *[((CHALLENGES / f"{w}.html").read_bytes(), 200, f"bot challenge ({w})") for w in walls],
        (GOOD, 503, "HTTP 503"),
    ]
    for body, status, reason in bad:
        stack.pages.files[name], stack.pages.statuses[name] = body, status
        job = prewarm(stack, url)
        assert (job["status"], job["error"]) == ("failed", reason)
        again = requests.get(stack.image_url(url), timeout=60)
        assert again.headers["X-Ogshot-Cache"] == "hit"
        assert again.content == good.content
    key = RenderRequest.build(url).cache_key()
    entry = ImageIndex(redis.Redis.from_url(stack.redis_url, decode_responses=True)).get(key)
    assert entry is not None
    assert entry.failed is not None
    assert entry.failed.reason == "HTTP 503"
    metrics = requests.get(stack.worker_metrics, timeout=10).text
    assert 'ogshot_render_rejections_total{reason="blank page"}' in metrics
    stack.pages.statuses.pop(name)


def test_a_sparse_page_is_stored_with_what_its_wait_was_for(stack: Stack) -> None:
    """A page of one short line on white is an image, not "preview unavailable"; its
    metadata says how the wait ended and what held it last (a timer set after load)."""
    name = f"{stack.name}-sparse.html"
    stack.pages.files[name] = SPARSE
    url = stack.pages.url(f"/files/{name}")
    answer = requests.get(stack.image_url(url), timeout=60)
    assert answer.headers["X-Ogshot-Cache"] == "miss", answer.headers.get("X-Ogshot-Reason")
    meta = stack.storage.head(RenderRequest.build(url).cache_key())
    assert (meta.readiness, meta.title) == ("ready", "Board: back at half time")
    assert meta.waited


@pytest.mark.two_stacks  # the worker's and the store's rules, not an engine's
def test_a_broken_page_is_rendered_once_per_failure_ttl(stack: Stack) -> None:
    """Five fetches of a failing page within OGSHOT_FAILURE_TTL load it once, each answered
    with the fallback that says the preview is unavailable; after the TTL, once more. The
    worker logs one WARNING with the URL and the reason, and no traceback."""
    name = f"{stack.name}-broken.html"
    url, path = stack.pages.url(f"/files/{name}"), f"/files/{name}"
    answers = [requests.get(stack.image_url(url), timeout=60) for _ in range(5)]
    assert [a.headers["X-Ogshot-Cache"] for a in answers] == ["fallback"] * 5
    assert answers[0].headers["X-Ogshot-Reason"] == "render failed"
    assert {a.headers["X-Ogshot-Reason"] for a in answers[1:]} == {"render failed recently"}
    assert answers[1].headers["Cache-Control"] == "public, max-age=30"
    assert answers[0].content == answers[1].content
    assert stack.pages.count(path) == 1
    time.sleep(FAILURE_TTL + 0.5)
    requests.get(stack.image_url(url), timeout=60)
    assert stack.pages.count(path) == 2
    logged = [line for line in (stack.logs / "worker.log").read_text().splitlines() if name in line]
    assert [line for line in logged if "WARNING" in line and "HTTP 404" in line]
    assert not [line for line in logged if "ERROR" in line or "Traceback" in line]


def test_render_options_reach_the_image_and_its_metadata(stack: Stack) -> None:
    """An element capture with a hidden element, through the whole stack: the image is the
    element's box, without the hidden part; the options are in the metadata, so a re-render
    (the admin's) renders the same image."""
    name = f"{stack.name}-card.html"
    stack.pages.files[name] = (
        b"<!doctype html><title>Card</title><style>body { margin: 0; }"
        b" #card { position: absolute; top: 700px; left: 40px; width: 320px; height: 160px;"
        b" background: #0b3d91; } .badge { width: 40px; height: 40px; background: #dc0000; }"
        b'</style><div id="card"><div class="badge"></div></div>'
    )
    url = stack.pages.url(f"/files/{name}")
    image = requests.get(stack.image_url(url) + "?selector=%23card&hide=.badge", timeout=60)
    assert image.headers["X-Ogshot-Cache"] == "miss"
    assert "X-Ogshot-Clipped" not in image.headers
    picture = Image.open(io.BytesIO(image.content)).convert("RGB")
    assert picture.size == (320, 160)
    colours = picture.getcolors(16)
    assert colours
    assert all(close_to(colour, (11, 61, 145)) for _, colour in colours)
    key = RenderRequest.build(url, selector="#card", hide=[".badge"]).cache_key()
    meta = stack.storage.head(key)
    assert meta.options == {"selector": "#card", "hide": [".badge"]}
