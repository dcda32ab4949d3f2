"""The ogshot command: `serve` (with its private Redis) and `render`."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests
from PIL import Image

from tests.helpers import (
    PageServer,
    close_to,
    free_port,
    ogshot_env,
    require,
    start,
    stop_process,
    wait_for_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]


def test_serve_starts_a_private_redis_and_serves_images(pages: PageServer, tmp_path: Path) -> None:
    """`ogshot serve` with no Redis reachable starts its own, renders, and stops it on exit."""
    require("redis-server")
    require("firefox-esr")
    dead_redis_port = free_port()
    port = free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"redis://127.0.0.1:{dead_redis_port}/0",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_MISS_WAIT="20",
    )
    proc = start([require("ogshot"), "serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_for_port("127.0.0.1", port, timeout=60, proc=proc)
        url = f"http://127.0.0.1:{port}/image/{quote_plus(pages.url('/page/serve?bg=00ff00'))}.png"
        deadline = time.monotonic() + 90
        response = requests.get(url, timeout=60)
        while response.headers.get("X-Ogshot-Cache") == "fallback" and time.monotonic() < deadline:
            time.sleep(1)  # the worker may still be starting its browser
            response = requests.get(url, timeout=60)
        assert response.headers["X-Ogshot-Cache"] in ("miss", "hit")
        image = Image.open(io.BytesIO(response.content)).convert("RGB")
        assert image.size == (1200, 630)
        assert close_to(image.getpixel((600, 315)), (0, 255, 0))
        assert list((tmp_path / "images").rglob("*.png"))
        output = (tmp_path / "serve.log").read_text()
        private = int(output.split("starting a private one on port ")[1].split()[0])
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(TimeoutError, match="nothing listens"):
            wait_for_port("127.0.0.1", private, timeout=2)  # the private Redis is gone
    finally:
        stop_process(proc)


@pytest.mark.parametrize("engine", ["firefox", "chromium"])
def test_render_writes_one_image_without_the_queue(
    pages: PageServer, tmp_path: Path, engine: str
) -> None:
    """`ogshot render URL -o FILE` renders once, with the chosen engine and format."""
    require("ogshot")
    env = ogshot_env()
    output = tmp_path / "card.jpg"
    url = pages.url("/page/render-cli?bg=ffff00")
    argv = ["ogshot", "render", url, "-o", str(output), "--engine", engine, "--scale", "2"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    image = Image.open(output)
    assert (image.format, image.size) == ("JPEG", (2400, 1260))
    assert close_to(image.convert("RGB").getpixel((1200, 630)), (255, 255, 0))


@pytest.mark.parametrize("engine", ["firefox", "chromium"])
def test_render_writes_the_picture_the_service_would_not_store(
    pages: PageServer, tmp_path: Path, engine: str
) -> None:
    """A page the quality gate refuses (here a blank one) is still written, for a person to
    see why, with its own exit status and the reason; an HTTP error has no picture: exit 1,
    nothing written."""
    require("ogshot")
    env = ogshot_env()
    pages.files["blank.html"] = b"<!doctype html><title>x</title><body style='background:#fff'>"
    output = tmp_path / "card.png"
    argv = ["ogshot", "render", pages.url("/files/blank.html"), "-o", str(output)]
    argv += ["--engine", engine]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3, done.stderr
    assert "the service would not store this: blank page" in done.stderr
    with Image.open(output) as written:
        assert written.size == (1200, 630)
    missing = tmp_path / "missing.png"
    argv = ["ogshot", "render", pages.url("/status/503"), "-o", str(missing), "--engine", engine]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "HTTP 503" in done.stderr
    assert not missing.exists()


def test_render_help_names_its_exit_statuses() -> None:
    """`ogshot render --help` says what each exit status means."""
    done = subprocess.run(["ogshot", "render", "--help"], env=ogshot_env(), capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    text = " ".join(done.stdout.split())
    assert "3 the picture is written but the service would not store it" in text


def test_render_refuses_a_url_off_the_allow_list(tmp_path: Path) -> None:
    """A refused URL exits 2 with the reason, and writes nothing."""
    env = {**os.environ, "OGSHOT_ALLOWED_HOSTS": "example.com"}
    output = tmp_path / "x.png"
    done = subprocess.run(
        ["ogshot", "render", "http://169.254.169.254/", "-o", str(output)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not in OGSHOT_ALLOWED_HOSTS" in done.stderr
    assert not output.exists()


def test_missing_allow_list_stops_start_up() -> None:
    """Without OGSHOT_ALLOWED_HOSTS every command refuses to start, naming the variable."""
    env = {k: v for k, v in os.environ.items() if k != "OGSHOT_ALLOWED_HOSTS"}
    done = subprocess.run(
        ["ogshot", "web"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "OGSHOT_ALLOWED_HOSTS is required" in done.stderr
