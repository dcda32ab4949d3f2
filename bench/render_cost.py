"""What one render costs the machine (not a test): CPU seconds of the engine's whole process
tree (the driver in this process, the browser and all its content, GPU and utility
processes) per render, with one site and with renders alternating between two sites.

    .venv/bin/python -m bench.render_cost [--renders 40] [--engines firefox,chromium]
        [--pref name=json-value ...] [--arg --chromium-switch ...]

``--pref`` (Firefox) and ``--arg`` (Chromium) try a setting on top of ogshot's own: what was
tried, and what it changed, is in docs/benchmarks.md. Each setting is judged by the figures
and by the pixels of a busy page (bench/encoding.py's: text, CJK, emoji, a gradient, a
canvas), which must not change.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import time
import uuid

from PIL import Image

from bench.encoding import PAGE as BUSY
from bench.load import tree_cpu_seconds, tree_pids, tree_pss_mb
from harness.servers import PageServer
from worker.engines import make_engine

WARM = 5


def _pixels(png: bytes) -> str:
    return hashlib.sha256(Image.open(io.BytesIO(png)).convert("RGB").tobytes()).hexdigest()[:12]


def measure(engine: str, pages: list[str], busy: str) -> list[object]:
    """Render ``pages`` (the first WARM unmeasured); return the figures of one table row."""
    running = make_engine(engine, 15)
    try:
        for page in pages[:WARM]:
            running.screenshot(page, 1200, 630, 1)
        me = os.getpid()
        cpu, started = tree_cpu_seconds(me), time.monotonic()
        for page in pages[WARM:]:
            running.screenshot(page, 1200, 630, 1)
        count = len(pages) - WARM
        cpu_ms = (tree_cpu_seconds(me) - cpu) / count * 1000
        wall_ms = (time.monotonic() - started) / count * 1000
        processes, mib = len(tree_pids(me)) - 1, tree_pss_mb(me)
        pixels = _pixels(running.screenshot(busy, 1200, 630, 1).png)
    finally:
        running.close()
    return [round(cpu_ms), round(wall_ms), processes, round(mib), pixels]


def main(argv: list[str] | None = None) -> None:
    """Print one row per engine and site pattern."""
    parser = argparse.ArgumentParser(prog="python -m bench.render_cost")
    parser.add_argument("--renders", type=int, default=40)
    parser.add_argument("--engines", default="firefox,chromium")
    parser.add_argument("--pref", action="append", default=[], help="Firefox: name=json")
    parser.add_argument("--arg", action="append", default=[], help="Chromium: a switch")
    args = parser.parse_args(argv)
    if args.pref:
        from worker.engines import firefox

        for pref in args.pref:
            name, value = pref.split("=", 1)
            firefox.PREFS[name] = json.loads(value)
    if args.arg:
        from worker.engines import chromium

        chromium.ARGS = (*chromium.ARGS, *args.arg)
    server = PageServer()
    server.files["busy.html"] = BUSY.encode()
    one = server.url("/").rstrip("/")
    two = one.replace("127.0.0.1", "localhost")  # another site, same server
    print("| engine | pages | CPU ms/render | wall ms/render | processes | MiB | pixels |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    try:
        for engine in (e for e in args.engines.split(",") if e):
            for label, sites in (("one site", (one,)), ("two sites, alternating", (one, two))):
                pages = [f"{sites[i % len(sites)]}/page/cost-{uuid.uuid4().hex}"
                         for i in range(WARM + args.renders)]  # fmt: skip
                row = measure(engine, pages, f"{one}/files/busy.html")
                print("| " + " | ".join(str(cell) for cell in [engine, label, *row]) + " |",
                      flush=True)  # fmt: skip
    finally:
        server.close()


if __name__ == "__main__":
    main()
