"""End to end: crawler requests against the real stack, per engine and per store."""

from __future__ import annotations

import io
import threading

import pytest
import redis
import requests
from PIL import Image

from shared.jobs import MISS_QUEUE
from tests.e2e.conftest import Stack
from tests.helpers import PageServer, close_to

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]


def get(url: str, **kwargs: object) -> requests.Response:
    """GET with a timeout well above the stack's 20 s miss wait."""
    return requests.get(url, timeout=60, **kwargs)  # type: ignore[arg-type]


def picture(response: requests.Response) -> Image.Image:
    """Decode an image response."""
    return Image.open(io.BytesIO(response.content))


def test_first_request_renders_the_page_exactly(stack: Stack) -> None:
    """An uncached page is rendered once: a 1200x630 PNG whose pixels are the page's."""
    page = stack.page("exact", bg="ff8000")
    response = get(stack.image_url(page))
    assert response.status_code == 200
    assert response.headers["X-Ogshot-Cache"] == "miss"
    assert response.headers["Content-Type"] == "image/png"
    image = picture(response).convert("RGB")
    assert (picture(response).format, image.size) == ("PNG", (1200, 630))
    assert close_to(image.getpixel((50, 50)), (0, 0, 255))  # the top-left square
    assert close_to(image.getpixel((1150, 580)), (0, 255, 0))  # the bottom-right square
    assert close_to(image.getpixel((600, 315)), (255, 128, 0))  # the page's background
    assert stack.pages.count(f"/page/{stack.name}-exact") == 1


def test_second_request_is_a_hit_with_identical_bytes(stack: Stack) -> None:
    """The next request is served from storage: same bytes, no new page load, 304 on ETag."""
    page = stack.page("again")
    first = get(stack.image_url(page))
    second = get(stack.image_url(page))
    assert second.headers["X-Ogshot-Cache"] == "hit"
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"]
    assert (
        get(stack.image_url(page), headers={"If-None-Match": second.headers["ETag"]}).status_code
        == 304
    )
    head = requests.head(stack.image_url(page), timeout=10)
    assert head.headers["Content-Length"] == str(len(first.content))
    assert stack.pages.count(f"/page/{stack.name}-again") == 1


def test_concurrent_requests_load_the_page_once(stack: Stack) -> None:
    """20 concurrent requests for a new page cause exactly one page load at the origin."""
    url = stack.image_url(stack.page("stampede", delay="0.5"))
    responses: list[requests.Response] = []
    barrier = threading.Barrier(20)

    def fetch() -> None:
        barrier.wait()
        responses.append(get(url))

    threads = [threading.Thread(target=fetch) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [200] * 20
    assert {r.headers["X-Ogshot-Cache"] for r in responses} <= {"miss", "hit"}
    assert len({r.content for r in responses}) == 1
    assert stack.pages.count(f"/page/{stack.name}-stampede") == 1


@pytest.mark.parametrize(
    ("ext", "query", "pil_format", "size"),
    [
        ("png", "?scale=2", "PNG", (2400, 1260)),
        ("jpg", "", "JPEG", (1200, 630)),
        ("webp", "?w=600&h=315", "WEBP", (600, 315)),
    ],
)
def test_sizes_and_formats(
    stack: Stack, ext: str, query: str, pil_format: str, size: tuple[int, int]
) -> None:
    """scale=2 is a true 2x image; jpg and webp are encoded as asked; w/h set the viewport."""
    response = get(stack.image_url(stack.page(f"fmt-{ext}"), ext) + query)
    assert response.headers["X-Ogshot-Cache"] == "miss"
    image = picture(response)
    assert (image.format, image.size) == (pil_format, size)
    scale = size[0] // (1200 if query != "?w=600&h=315" else 600)
    assert close_to(image.convert("RGB").getpixel((10, 10)), (0, 0, 255), tolerance=20)
    assert close_to(
        image.convert("RGB").getpixel((100 * scale + 20, 100 * scale + 20)), (255, 0, 0), 20
    )


def test_refused_urls_never_reach_any_server(stack: Stack, canary: PageServer) -> None:
    """Refused URLs get 403 with a reason; the internal server sees nothing, nothing is queued."""
    before = canary.total()
    target = f"127.0.0.2:{canary.port}"
    for page in (
        f"http://{target}/page/x",
        f"http://127.0.0.1@{target}/page/x",
        f"http://127.0.0.1.{target}/page/x",
        f"http://[::ffff:127.0.0.2]:{canary.port}/page/x",
        f"http://2130706434:{canary.port}/page/x",
        f"http://localhost:{canary.port}/page/x",
        "file:///etc/passwd",
        f"gopher://{target}/",
    ):
        response = get(stack.image_url(page))
        assert response.status_code in (400, 403), page
        assert response.text.strip(), page
    assert canary.total() == before
    assert redis.Redis.from_url(stack.redis_url).llen(MISS_QUEUE) == 0


def test_slow_page_gets_the_fallback_then_the_image(stack: Stack) -> None:
    """Past the miss wait a crawler gets the fallback (short cache life); the render finishes."""
    page = stack.page("slow", delay="2")
    first = get(stack.image_url(page, web=stack.impatient_web))
    assert first.status_code == 200
    assert first.headers["X-Ogshot-Cache"] == "fallback"
    assert first.headers["Cache-Control"] == "public, max-age=30"
    assert picture(first).size == (1200, 630)
    # The patient web joins the render already under way instead of starting another.
    second = get(stack.image_url(page))
    assert second.headers["X-Ogshot-Cache"] in ("miss", "hit")
    assert picture(second).size == (1200, 630)
    assert stack.pages.count(f"/page/{stack.name}-slow") == 1


def test_error_page_is_not_cached(stack: Stack) -> None:
    """A page answering HTTP 500 gives the fallback at once and leaves nothing in storage."""
    url = stack.image_url(stack.pages.url(f"/status/500?{stack.name}"))
    response = get(url)
    assert response.headers["X-Ogshot-Cache"] == "fallback"
    assert get(url).headers["X-Ogshot-Cache"] == "fallback"
