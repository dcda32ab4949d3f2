"""Pages that wait on the network (issue 27): the HTML after 300 ms, four images of 600 ms
each, a fetch answered 700 ms after load, so a page is ready about 1.5 s after it is asked
for while its browser mostly idles. 32 of them asked for at once, for one page at a time
per browser (today's default, 2 worker processes) and for renders at once in one browser:
renders/s beside the CPU limit of the same run (cores / CPU-seconds per render of the worker
and its browsers), their ratio, and the worker tree's peak PSS, whole and per render in flight.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.load import PeakPss, tree_cpu_seconds
from bench.stack import Bench, fetch_all, sample_png

PAGES = 32
LATENCY_PAGE = b"""<!doctype html><html><head><meta charset='utf-8'><title>Round 12</title>
<style>body { margin: 0; font-family: 'DejaVu Sans', sans-serif; color: #1b2330; }
header { background: #12305a; color: #fff; padding: 18px 32px; font-size: 28px; }
main { padding: 20px 32px; font-size: 24px; } img { width: 260px; height: 150px; margin: 8px; }
</style></head><body><header>Riverside League &middot; Round 12</header><main>
<p id='score'>Loading the live score&hellip;</p>
<img src='/files/latency-0.png?delay=0.6'><img src='/files/latency-1.png?delay=0.6'>
<img src='/files/latency-2.png?delay=0.6'><img src='/files/latency-3.png?delay=0.6'>
</main><script>addEventListener('load', () => fetch('/files/latency.json?delay=0.7')
  .then(r => r.json()).then(s => { score.textContent = s.text; }));</script></body></html>"""


@dataclass(frozen=True)
class Figures:
    """One configuration's run."""

    rate: float  # renders per second
    cpu_per_render: float  # CPU-seconds of the worker tree per render
    peak_mb: float  # the worker tree's peak PSS
    in_flight: int  # renders the configuration runs at once

    @property
    def limit(self) -> float:
        """Renders per second the machine's cores could do at this CPU cost."""
        return (os.cpu_count() or 1) / self.cpu_per_render


def serve_pages(bench: Bench) -> None:
    """Put the page, its images and its data on the bench's page server."""
    bench.pages.files["latency.html"] = LATENCY_PAGE
    for index in range(4):
        bench.pages.files[f"latency-{index}.png"] = sample_png()
    bench.pages.files["latency.json"] = b'{"text": "Harbour FC 3 - 2 North End"}'


def run(bench: Bench, env: dict[str, str], processes: int, in_flight: int,
        tree: Path | None = None) -> Figures:  # fmt: skip
    """Ask for PAGES fresh pages at once of one worker; what it took."""
    urls = [bench.pages.url(f"/files/latency.html?delay=0.3&u={uuid.uuid4().hex}")
            for _ in range(PAGES)]  # fmt: skip
    with bench.web(env) as web, bench.worker(env, web, processes, tree) as pid:
        cpu = tree_cpu_seconds(pid)
        with PeakPss(pid, whole=True) as peak:
            started = time.monotonic()
            fetch_all(web, urls, timeout=180)
            seconds = time.monotonic() - started
        used = tree_cpu_seconds(pid) - cpu
    return Figures(PAGES / seconds, used / PAGES, peak.mb, in_flight)


def row(name: str, figures: Figures) -> list[object]:
    """A table row of one configuration."""
    return [name, figures.rate, figures.limit, figures.rate / figures.limit,
            figures.cpu_per_render, round(figures.peak_mb), round(figures.peak_mb / figures.in_flight)]  # fmt: skip


HEADER = ["configuration", "renders/s", "CPU limit", "ratio", "CPU-s/render",
          "peak PSS MiB", "MiB per render in flight"]  # fmt: skip
