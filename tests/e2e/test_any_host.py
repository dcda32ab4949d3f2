"""OGSHOT_ALLOWED_HOSTS=* with signing keys (docs/security.md): the service starts and works.

The configuration accepted this mode while the URL policy crashed on "*" at start-up, in the
web (gunicorn: "Worker failed to boot") and in the worker alike; only the configuration was
ever tested.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from ogshot_client import og_image_url
from PIL import Image

from tests.helpers import (
    PageServer,
    close_to,
    free_port,
    ogshot_env,
    require,
    serving,
    start,
    stop_process,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
KEY = "any-host-signing-key-0123456789"


def test_any_host_with_signatures_renders_signed_urls_only(
    tmp_path: Path, redis_base: str, pages: PageServer
) -> None:
    """Web and worker start with "*"; a signed URL renders, an unsigned one is refused."""
    require("chromedriver")
    port = free_port()
    env = ogshot_env(
        OGSHOT_ALLOWED_HOSTS="*",
        OGSHOT_SIGNING_KEYS=KEY,
        OGSHOT_REDIS_URL=f"{redis_base}/11",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER="chromium",
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_MISS_WAIT="30",
    )
    worker = start(["ogshot", "worker"], env, tmp_path / "worker.log")
    try:
        argv = ["ogshot", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        with serving(argv, port, env, tmp_path / "web.log"):
            web = f"http://127.0.0.1:{port}"
            page = pages.url("/page/any-host?bg=0000ff")
            signed = requests.get(og_image_url(web, page, signing_key=KEY), timeout=60)
            assert signed.headers["X-Ogshot-Cache"] == "miss", (tmp_path / "worker.log").read_text()
            picture = Image.open(io.BytesIO(signed.content)).convert("RGB")
            assert close_to(picture.getpixel((600, 315)), (0, 0, 255))
            unsigned = requests.get(og_image_url(web, page), timeout=60)
            assert unsigned.status_code == 403
            assert requests.get(f"{web}/readyz", timeout=30).status_code == 200
    finally:
        stop_process(worker)
    assert "Traceback" not in (tmp_path / "web.log").read_text()
