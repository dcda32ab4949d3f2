"""The gallery (tests/worker/gallery.py) renders as it did before renders ran concurrently:
each page, in both engines, against the reference image kept beside it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import PageServer
from tests.worker.gallery import NOISY_SHARE, Exhibit, differing, exhibits, reference
from worker.engines import Engine

pytestmark = pytest.mark.browser
EXHIBITS = {exhibit.name: exhibit for exhibit in exhibits()}


def render(engine: Engine, pages: PageServer, exhibit: Exhibit) -> Image.Image:
    """Render one exhibit as the engine does alone, in RGB."""
    pages.files.update(exhibit.files)
    url = pages.url(f"/files/{exhibit.path}")
    shot = engine.screenshot(url, 1200, 630, exhibit.scale, exhibit.page)
    return Image.open(io.BytesIO(shot.png)).convert("RGB")


@pytest.mark.parametrize("name", sorted(EXHIBITS))
def test_each_page_renders_as_its_reference(engine: Engine, pages: PageServer, name: str) -> None:
    """Same size, and the same pixels but for rasterizer noise."""
    image = render(engine, pages, EXHIBITS[name])
    expected = Image.open(reference(engine.name, name)).convert("RGB")
    assert image.size == expected.size
    off = differing(image, expected)
    assert off <= NOISY_SHARE * image.width * image.height, f"{off} pixels differ"


def test_the_comparison_sees_a_page_that_went_wrong(engine: Engine, pages: PageServer) -> None:
    """The check itself: the match report without its hero image is not the reference."""
    exhibit = EXHIBITS["lazy"]
    broken = exhibit.files["lazy.html"].replace(b"/files/hero.png", b"/files/no-such-hero.png")
    image = render(engine, pages, Exhibit("broken", {"broken.html": broken}, "broken.html"))
    expected = Image.open(reference(engine.name, "lazy")).convert("RGB")
    assert differing(image, expected) > NOISY_SHARE * image.width * image.height
