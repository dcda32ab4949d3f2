"""Benchmark the admin list view with 10,000 indexed images (not a test).

    .venv/bin/python -m bench.admin_list [--entries 10000] [--runs 30]

Starts a private redis-server, indexes N synthetic images, and times the list view in-process
(Flask test client, so HTTP server time is left out) for common queries. The baseline is the
same view over an empty index in the same run: the ratio shows what the index costs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable

import redis

from shared.config import load_config
from shared.index import ImageIndex
from shared.storage import ImageMeta
from shared.storage.memory import MemoryStorage
from web import create_app

PASSWORD = "benchmark password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fill(index: ImageIndex, entries: int) -> None:
    now = time.time()
    for i in range(entries):
        host = f"site{i % 20}.example.com"
        meta = ImageMeta(
            url=f"https://{host}/section{i % 7}/page-{i}", width=1200, height=630, scale=1,
            format="png", engine="firefox", rendered_at=now - i, render_ms=100 + i % 900,
            size=50_000 + (i * 7919) % 400_000, sha256=f"{i:064x}", title=f"Page {i}",
        )  # fmt: skip
        index.add(f"v1/{i % 256:02x}/{i // 256 % 256:02x}/{i:064x}.png", meta)


def _timer(get: Callable[[], object], runs: int) -> float:
    get()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        get()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    port = _free_port()
    server = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        url = f"redis://127.0.0.1:{port}/0"
        config = load_config({
            "OGSHOT_ALLOWED_HOSTS": "*.example.com", "OGSHOT_REDIS_URL": url,
            "OGSHOT_ADMIN_PASSWORD": PASSWORD, "OGSHOT_SECRET_KEY": "b" * 40,
        })  # fmt: skip
        client = create_app(config, storage=MemoryStorage()).test_client()
        token = re.search(
            r'name="csrf" value="([^"]+)"', client.get("/admin/login").get_data(as_text=True)
        )
        assert token is not None
        client.post("/admin/login", data={"password": PASSWORD, "csrf": token.group(1)})
        queries = {
            "newest first, page 1": "/admin/",
            "page 100": "/admin/?page=100",
            "sorted by size": "/admin/?sort=size",
            "one host (500 images)": "/admin/?host=site3.example.com",
            "URL search": "/admin/?q=page-99",
        }
        baseline = _timer(lambda: client.get("/admin/"), args.runs)
        started = time.perf_counter()
        _fill(ImageIndex(redis.Redis.from_url(url, decode_responses=True)), args.entries)
        fill_s = time.perf_counter() - started
        print(f"indexed {args.entries} images in {fill_s:.1f} s; empty list: {baseline:.1f} ms\n")
        print("| query | median ms | x empty list |")
        print("| --- | ---: | ---: |")
        for label, path in queries.items():
            ms = _timer(lambda path=path: client.get(path), args.runs)
            print(f"| {label} | {ms:.1f} | {ms / baseline:.1f} |")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
