"""The speed benchmarks (not tests): each figure beside a floor measured in the same run.

    .venv/bin/python -m bench [--only hit,miss,stampede,scale,memory,encoding]
                              [--engines firefox,chromium] [--quick]

Starts everything it needs (Redis, a page server, moto's S3 server, ``ogshot web`` under
gunicorn, ``ogshot worker``), drives it with wrk and paced HTTP requests, and prints Markdown
tables for docs/benchmarks.md. ``--quick`` shrinks every size to check that the harness works.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench import encoding, latency
from bench.load import (
    PacedResult,
    PeakPss,
    WrkResult,
    busy_cores,
    paced,
    percentile,
    tree_cpu_seconds,
    tree_pss_mb,
    wrk,
)
from bench.stack import Bench, fetch, fetch_all, image_url, sample_png
from shared.changes import make_storage
from shared.config import load_config
from shared.keys import RenderRequest
from shared.versions import KEEP_VERSIONS
from worker.engines import Engine, EngineOptions, make_engine
from worker.engines.contexts import ContextEngine
from worker.engines.launch import start

SECTIONS = ("hit", "miss", "readiness", "stampede", "scale", "memory", "encoding", "latency")


@dataclass(frozen=True)
class Sizes:
    """How much each section does."""

    hit_seconds: float = 10
    hit_rounds: int = 3
    misses: int = 10
    stampede_requests: int = 600
    stampede_urls: int = 50
    stampede_seconds: float = 20
    scale_renders: int = 24
    memory_renders: int = 500
    memory_step: int = 50
    encoding_runs: int = 10
    latency_rounds: int = 3
    latency_slots: tuple[int, ...] = (4, 8)


QUICK = Sizes(hit_seconds=1, hit_rounds=1, misses=2, stampede_requests=20, stampede_urls=4,
              stampede_seconds=2, scale_renders=2, memory_renders=4, memory_step=2,
              encoding_runs=1, latency_rounds=1, latency_slots=(4,))  # fmt: skip


def table(title: str, header: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table under a title line."""

    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["", f"### {title}", "", "| " + " | ".join(header) + " |",
             "| --- |" + " ---: |" * (len(header) - 1)]  # fmt: skip
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def hit(bench: Bench, sizes: Sizes, _engines: list[str]) -> list[str]:
    """A cached image at concurrency 32, each store, against a bare Flask route.

    The three servers run side by side and take turns (``hit_rounds`` rounds), so a slow spell
    of the machine hits each alike; the median round counts. CPU: milliseconds the server's
    processes spent per request, the cost that decides how many hits a core serves.
    """
    data = sample_png()
    image_file = bench.tmp / "hit.png"
    image_file.write_bytes(data)
    # The versioned rows ask for the newest of the most versions an image keeps (the
    # largest metadata a hit reads): a known version must cost nothing more than a hit.
    versions = tuple(f"2026-12-{day:02d}T10:00:00" for day in range(1, KEEP_VERSIONS + 1))
    servers = (("bare Flask route (baseline)", None, False),
               ("ogshot, filesystem", "fs", False), ("ogshot, S3 (moto)", "s3", False),
               (f"ogshot, filesystem, v= known ({KEEP_VERSIONS} kept)", "fs", True),
               (f"ogshot, S3 (moto), v= known ({KEEP_VERSIONS} kept)", "s3", True))  # fmt: skip
    runs: dict[str, list[tuple[WrkResult, float]]] = {name: [] for name, *_ in servers}
    turn = max(1, round(sizes.hit_seconds / 2))  # wrk takes whole seconds
    with contextlib.ExitStack() as running:
        urls = {}
        for name, store, versioned in servers:
            env = bench.env(store or "fs", OGSHOT_BENCH_IMAGE=str(image_file))
            known = versions if versioned else ()
            page = bench.cached(env, data, f"hit-{uuid.uuid4().hex}", known)
            app = "bench.baseline:app" if store is None else "web.wsgi:app"
            web = running.enter_context(bench.web(env, app))
            urls[name] = image_url(web, page) + (f"?v={versions[-1]}" if versioned else "")
            warm = requests.get(urls[name], timeout=30)  # warm: imports, connections
            if warm.content != data or (store and warm.headers.get("X-Ogshot-Cache") != "hit"):
                raise RuntimeError(f"{name} did not answer with the cached image as a hit")
        for _ in range(sizes.hit_rounds):
            for name, url in urls.items():
                pid = bench.web_pids[url.split("/image/")[0]]
                cpu = tree_cpu_seconds(pid)
                result = wrk(url, connections=32, seconds=turn)
                runs[name].append((result, (tree_cpu_seconds(pid) - cpu) / result.requests))
    rows = []
    baseline = None
    for name, *_ in servers:
        result, cpu = sorted(runs[name], key=lambda run: run[0].rate)[sizes.hit_rounds // 2]
        baseline = baseline or result
        rows.append([name, round(result.rate), result.p50, result.p99, cpu * 1000,
                     result.bad + result.errors, result.rate / baseline.rate])  # fmt: skip
    return table(
        f"Hit path: one cached {len(data) // 1024} KiB PNG, wrk, 32 connections, "
        f"median of {sizes.hit_rounds} turns of {turn} s",
        ["server", "req/s", "p50 ms", "p99 ms", "CPU ms/request", "errors", "x baseline req/s"],
        rows,
    )


# Renders per browser of the miss section's second row per engine: renders at once
# (issue 27), one asked for at a time, against one page at a time per browser.
MISS_AT_ONCE = 4


def miss(bench: Bench, sizes: Sizes, engines: list[str]) -> list[str]:
    """Request to image for a warm worker, against the same engine screenshotting directly:
    with one page at a time per browser, and with MISS_AT_ONCE renders per browser."""
    rows = []
    for engine, slots in [(engine, slots) for engine in engines for slots in (1, MISS_AT_ONCE)]:
        env = bench.env("fs", OGSHOT_BROWSER=engine, OGSHOT_MISS_WAIT="30",
                        OGSHOT_RENDERS_PER_BROWSER=str(slots))  # fmt: skip
        floor = make_engine(engine, 15, ready_timeout=0, clean=False)
        try:
            with bench.web(env) as web, bench.worker(env, web, 1):
                floor.screenshot(bench.pages.url("/page/floor-warm"), 1200, 630, 1)
                floor_ms, ogshot_ms = [], []
                # Interleaved, so a slow spell of the machine hits both alike.
                for i in range(sizes.misses):
                    page = bench.pages.url(f"/page/floor-{engine}-{i}-{uuid.uuid4().hex}")
                    floor_ms.append(_timed(floor.screenshot, page, 1200, 630, 1))
                    page = bench.pages.url(f"/page/miss-{engine}-{i}-{uuid.uuid4().hex}")
                    ogshot_ms.append(_timed(_expect_miss, web, page))
        finally:
            floor.close()
        low, high = statistics.median(floor_ms), statistics.median(ogshot_ms)
        name = engine if slots == 1 else f"{engine}, {slots} renders per browser"
        rows.append([name, low, high, high / low, percentile(ogshot_ms, 90)])
    return table(
        f"Miss path: request to 1200x630 PNG for a warm worker, median of {sizes.misses}",
        ["worker", "browser floor ms", "ogshot ms", "x floor", "ogshot p90 ms"],
        rows,
    )


def readiness(bench: Bench, sizes: Sizes, engines: list[str]) -> list[str]:
    """What the wait for the page costs a page that is ready at load: the engine with its
    wait on and off, beside the floor (a bare navigate and screenshot); and the engine of
    renders at once (a context per render, over BiDi) with its wait on, until its image is
    in hand (its context is removed after, while the worker encodes the image)."""
    rows = []
    for engine in engines:
        variants: dict[str, Engine] = {
            "floor": make_engine(engine, 15, ready_timeout=0, clean=False),
            "off": make_engine(engine, 15, ready_timeout=0),
            "on": make_engine(engine, 15),
            "contexts": start(engine, EngineOptions(render_timeout=15)),
        }
        timings: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for running in variants.values():
                running.screenshot(bench.pages.url("/page/ready-warm"), 1200, 630, 1)
            # Interleaved, so a slow spell of the machine hits all three alike.
            for i in range(sizes.misses * 2):
                for name, running in variants.items():
                    page = bench.pages.url(f"/page/ready-{name}-{i}-{uuid.uuid4().hex}")
                    if isinstance(running, ContextEngine):
                        timings[name].append(_timed_shot(running, page))
                    else:
                        timings[name].append(_timed(running.screenshot, page, 1200, 630, 1))
        finally:
            for running in variants.values():
                running.close()
        floor, off, on, at_once = (
            statistics.median(timings[name]) for name in ("floor", "off", "on", "contexts")
        )
        rows.append([engine, floor, off, on, on - off, percentile(timings["on"], 90), at_once,
                     at_once / on])  # fmt: skip
    return table(
        f"Readiness: a page with nothing pending after load, engine alone, median of "
        f"{sizes.misses * 2}",
        READINESS_HEADER,
        rows,
    )


READINESS_HEADER = ["engine", "floor ms", "wait off ms", "wait on ms", "on - off ms", "on p90 ms",
                    "contexts, wait on ms", "contexts x on"]  # fmt: skip


def _timed(call: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    call(*args)
    return (time.perf_counter() - started) * 1000


def _timed_shot(engine: ContextEngine, page: str) -> float:
    """Milliseconds until the image is in hand, as the worker has it: the block where it
    encodes the image while the render's context is removed."""
    started = time.perf_counter()
    with engine.rendering(page, 1200, 630, 1):
        return (time.perf_counter() - started) * 1000


def _expect_miss(web: str, page: str) -> None:
    outcome = fetch(web, page).headers.get("X-Ogshot-Cache")
    if outcome != "miss":
        raise RuntimeError(f"expected a rendered miss, got {outcome}")


@dataclass(frozen=True)
class StampedeFigures:
    """One stampede run."""

    loads: int
    stored: int
    burst_errors: int
    hit_errors: int
    outcomes: str
    quiet_p99: float
    loud_p99: float


def stampede(bench: Bench, sizes: Sizes, _engines: list[str]) -> list[str]:
    """A burst of uncached URLs with the default settings while hits keep coming: on shared
    CPUs, then with web and worker pinned to CPUs of their own (as on separate machines)."""
    shared = _stampede_run(bench, sizes)
    with bench.pinned() as layout:
        pinned = _stampede_run(bench, sizes)
    both = (shared, pinned)
    target = f"<= {sizes.stampede_urls}"
    return table(
        f"Stampede: {sizes.stampede_requests} requests in {sizes.stampede_seconds:g} s over "
        f"{sizes.stampede_urls} uncached URLs, defaults (2 Firefox workers, 4 s wait), "
        "with a steady stream of hits (wrk, 4 connections, 20 ms apart). Pinned: "
        + layout.describe(),
        ["figure", "shared CPUs", "pinned", "target"],
        [
            ["page loads at the origin", *(f.loads for f in both), target],
            ["images stored afterwards", *(f.stored for f in both), sizes.stampede_urls],
            ["5xx or no answer (burst)", *(f.burst_errors for f in both), 0],
            ["non-2xx/3xx (hits)", *(f.hit_errors for f in both), 0],
            ["burst answers", *(f.outcomes for f in both), ""],
            ["hit p99 ms, quiet", *(f.quiet_p99 for f in both), ""],
            ["hit p99 ms, during the burst", *(f.loud_p99 for f in both), ""],
            ["x quiet", *(f.loud_p99 / f.quiet_p99 for f in both), "<= 2 (pinned)"],
        ],
    )


def _stampede_run(bench: Bench, sizes: Sizes) -> StampedeFigures:
    env = bench.env("fs")  # the defaults: firefox, 2 worker processes, 4 s miss wait
    hit_page = bench.cached(env, sample_png(), f"stampede-hit-{uuid.uuid4().hex}")
    run = uuid.uuid4().hex[:8]
    paths = [f"/page/stampede-{run}-{i}" for i in range(sizes.stampede_urls)]
    seconds = sizes.stampede_seconds
    with bench.web(env) as web, bench.worker(env, web, 2):
        hits = image_url(web, hit_page)

        def steady() -> WrkResult:
            return wrk(hits, connections=4, threads=1, seconds=seconds, delay_ms=20)

        quiet = steady()
        order = [paths[i % len(paths)] for i in range(sizes.stampede_requests)]
        random.Random(7).shuffle(order)
        burst: list[PacedResult] = []
        runner = threading.Thread(target=lambda: burst.append(
            paced([image_url(web, bench.pages.url(p)) for p in order], seconds)))  # fmt: skip
        runner.start()
        loud = steady()
        runner.join()
        stored = _wait_stored(env, [bench.pages.url(p) for p in paths], timeout=180)
    return StampedeFigures(
        loads=sum(bench.pages.count(p) for p in paths),
        stored=stored,
        burst_errors=burst[0].server_errors,
        hit_errors=quiet.bad + loud.bad + quiet.errors + loud.errors,
        outcomes=", ".join(f"{k} {v}" for k, v in sorted(burst[0].outcomes.items())),
        quiet_p99=quiet.p99,
        loud_p99=loud.p99,
    )


def _wait_stored(env: dict[str, str], pages: list[str], timeout: float) -> int:
    """Wait until every page has an image; return how many have one."""
    store = make_storage(load_config(env))
    keys = [RenderRequest.build(page).cache_key() for page in pages]
    deadline = time.monotonic() + timeout
    while True:
        found = 0
        for key in keys:
            try:
                store.head(key)
                found += 1
            except FileNotFoundError:
                pass
        if found == len(keys) or time.monotonic() > deadline:
            return found
        time.sleep(1)


def scale(bench: Bench, sizes: Sizes, engines: list[str]) -> list[str]:
    """Renders per second with 1 and 2 worker processes, per engine, and what each render
    costs: CPU seconds of the whole worker (pool processes, browsers and their content,
    GPU and utility processes) per render, and the peak PSS of one render process with its
    browser."""
    rows = []
    for engine in engines:
        figures = []
        for processes in (1, 2):
            env = bench.env("fs", OGSHOT_BROWSER=engine, OGSHOT_MISS_WAIT="60",
                            OGSHOT_MAX_WAITING="64")  # fmt: skip
            pages = [bench.pages.url(f"/page/scale-{uuid.uuid4().hex}")
                     for _ in range(sizes.scale_renders)]  # fmt: skip
            with bench.web(env) as web, bench.worker(env, web, processes) as pid:
                busy, cpu = busy_cores(), tree_cpu_seconds(pid)
                with PeakPss(pid) as peak:
                    seconds = _timed(fetch_all, web, pages) / 1000
                cores = (busy_cores() - busy) / seconds
                per_render = (tree_cpu_seconds(pid) - cpu) / sizes.scale_renders
            figures.append((sizes.scale_renders / seconds, cores, per_render, peak.mb))
        (rate1, cores1, cpu1, mb1), (rate2, cores2, cpu2, mb2) = figures
        rows.append([engine, rate1, cores1, round(cpu1 * 1000), round(mb1), rate2, cores2,
                     round(cpu2 * 1000), round(mb2), rate2 / rate1, cpu2 / cpu1])  # fmt: skip
    return table(
        f"Scale: {sizes.scale_renders} renders requested at once, 1 then 2 worker processes; "
        f"cores: of the machine's {os.cpu_count()} busy meanwhile; CPU ms: of the worker and "
        "its browsers per render; MiB: peak PSS of one render process with its browser",
        ["engine", "renders/s, 1", "cores", "CPU ms/render", "MiB", "renders/s, 2", "cores",
         "CPU ms/render", "MiB each", "x renders/s", "x CPU ms/render"],
        rows,
    )  # fmt: skip


MEMORY_HEADER = ["engine", "MiB after warm-up", "MiB peak", "MiB at end", "x peak", "x end",
                 "every sample, MiB"]  # fmt: skip


def memory(bench: Bench, sizes: Sizes, engines: list[str]) -> list[str]:
    """Memory (PSS) of a worker and its browser over many renders."""
    rows = []
    for engine in engines:
        env = bench.env("fs", OGSHOT_BROWSER=engine, OGSHOT_MISS_WAIT="60")
        samples = []
        with bench.web(env) as web, bench.worker(env, web, 1) as pid:
            for _ in range(0, sizes.memory_renders, sizes.memory_step):
                pages = [bench.pages.url(f"/page/memory-{uuid.uuid4().hex}")
                         for _ in range(sizes.memory_step)]  # fmt: skip
                fetch_all(web, pages, parallel=4, timeout=120)
                samples.append(tree_pss_mb(pid))
        warm, peak, last = samples[0], max(samples), samples[-1]
        series = " ".join(str(round(mb)) for mb in samples)
        rows.append([engine, round(warm), round(peak), round(last), peak / warm, last / warm,
                     series])  # fmt: skip
    return table(
        f"Memory: PSS of a worker (1 process) with its browser over {sizes.memory_renders} "
        f"renders, sampled every {sizes.memory_step}",
        MEMORY_HEADER,
        rows,
    )


def encoding_tables(_bench: Bench, sizes: Sizes, _engines: list[str]) -> list[str]:
    """Encoding time and bytes per setting (bench/encoding.py)."""
    return ["", "### Encoding a real screenshot (Pillow), median of "
            f"{sizes.encoding_runs}", *encoding.tables(sizes.encoding_runs)]  # fmt: skip


# A checkout of the commit to compare with (``--baseline-tree``): its worker runs beside
# this one's in the latency section, for "today" measured the same day on the same machine.
BASELINE_TREE: list[Path] = []


def latency_tables(bench: Bench, sizes: Sizes, engines: list[str]) -> list[str]:
    """Renders/s against the CPU limit on pages that wait on the network (bench/latency.py):
    one page at a time per browser (2 processes, as today's default) beside renders at once
    in one browser; each configuration in turn, ``latency_rounds`` times, the median counts."""
    latency.serve_pages(bench)
    tree = BASELINE_TREE[0] if BASELINE_TREE else None
    today = "today" + (f" ({tree.name})" if tree else "") + ": 2 processes, 1 render each"
    configurations = [(today, 2, 1, tree)] + [
        (f"1 process, {slots} renders at once", 1, slots, None) for slots in sizes.latency_slots
    ]
    rows = []
    for engine in engines:
        runs: dict[str, list[latency.Figures]] = {name: [] for name, *_ in configurations}
        for _ in range(sizes.latency_rounds):
            for name, processes, slots, checkout in configurations:
                env = bench.env("fs", OGSHOT_BROWSER=engine, OGSHOT_MISS_WAIT="60",
                                OGSHOT_MAX_WAITING="64",
                                OGSHOT_RENDERS_PER_BROWSER=str(slots))  # fmt: skip
                in_flight = processes * slots
                runs[name].append(latency.run(bench, env, processes, in_flight, checkout))
        for name, *_ in configurations:
            middle = sorted(runs[name], key=lambda f: f.rate)[len(runs[name]) // 2]
            rows.append(latency.row(f"{engine}, {name}", middle))
    return table(
        f"Latency: {latency.PAGES} pages that wait on the network asked for at once (HTML "
        "after 300 ms, four images of 600 ms, a fetch 700 ms after load); CPU limit: "
        f"{os.cpu_count()} cores / CPU-s per render of the worker tree, same run; median of "
        f"{sizes.latency_rounds} turns",
        latency.HEADER,
        rows,
    )


RUNNERS: dict[str, Callable[[Bench, Sizes, list[str]], list[str]]] = {
    "hit": hit, "miss": miss, "readiness": readiness, "stampede": stampede, "scale": scale, "memory": memory,
    "encoding": encoding_tables, "latency": latency_tables,
}  # fmt: skip


def machine() -> str:
    """One line on where and when the figures were taken."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())  # fmt: skip
    return (f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} x {cpu}, "
            f"{platform.platform(terse=True)}, Python {platform.python_version()}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Run the chosen sections and print their tables."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--engines", default="firefox,chromium")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the harness")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="a checkout whose worker is latency's 'today' row")  # fmt: skip
    args = parser.parse_args(argv)
    if args.baseline_tree:
        BASELINE_TREE.append(args.baseline_tree.resolve())
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else Sizes()
    engines = [e for e in args.engines.split(",") if e]
    print(f"Measured {machine()}")
    with tempfile.TemporaryDirectory(prefix="ogshot-bench-") as tmp, Bench(Path(tmp)) as bench:
        for section in sections:
            started = time.monotonic()
            lines = RUNNERS[section](bench, sizes, engines)
            print(
                "\n".join(lines), f"\n({section}: {time.monotonic() - started:.0f} s)", flush=True
            )


if __name__ == "__main__":
    main()
