"""Metrics stay right across processes: gunicorn workers add up, the worker reports renders."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests

from shared.keys import RenderRequest
from shared.storage import ImageMeta
from shared.storage.fs import FilesystemStorage
from tests.e2e.conftest import Stack
from tests.helpers import free_port, ogshot_env, require, serving
from tests.web.test_metrics import sample

pytestmark = [pytest.mark.e2e, pytest.mark.server]
PAGE = "http://127.0.0.1:9/metrics-page"


def test_hits_add_up_over_two_gunicorn_processes(redis_base: str, tmp_path: Path) -> None:
    """60 hits spread over two gunicorn processes show as 60 on /metrics."""
    store = FilesystemStorage(tmp_path / "images")
    request = RenderRequest.build(PAGE)
    store.put(request.cache_key(), b"png", ImageMeta.describe(request, b"png", engine="x",
                                                              render_ms=1))  # fmt: skip
    port = free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/14", OGSHOT_STORAGE_URL=str(tmp_path / "images")
    )
    argv = [require("ogshot"), "web", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    with serving(argv, port, env, tmp_path / "web.log"):
        url = f"http://127.0.0.1:{port}"
        for _ in range(60):
            with requests.Session() as session:  # new connections, so both processes serve
                response = session.get(f"{url}/image/{quote_plus(PAGE)}.png", timeout=10)
                assert response.headers["X-Ogshot-Cache"] == "hit"
        text = requests.get(f"{url}/metrics", timeout=10).text
        pids = {
            line
            for line in (tmp_path / "web.log").read_text().splitlines()
            if "Booting worker" in line
        }
    assert len(pids) == 2
    assert sample(text, "ogshot_image_requests_total", cache="hit") == 60


@pytest.mark.browser
def test_worker_reports_renders(stack: Stack) -> None:
    """The worker's endpoint counts renders by engine and outcome, with their durations."""
    requests.get(stack.image_url(stack.page("metrics")), timeout=60)
    text = requests.get(stack.worker_metrics, timeout=10).text
    engine = stack.name.split("-")[0]
    assert sample(text, "ogshot_renders_total", engine=engine, outcome="rendered") >= 1
    assert sample(text, "ogshot_render_seconds_count", engine=engine, outcome="rendered") >= 1
