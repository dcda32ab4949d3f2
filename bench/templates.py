"""How readiness ends on real public templates, engine alone: none may go from "ready" to
"timeout" by a change to the wait.

    .venv/bin/python bench/templates.py [--engines firefox,chromium] [--runs 3] DIR [DIR ...]

Each DIR is a static site (a fetched template: StartBootstrap's, MIT; HTML5 UP's, CC BY 3.0;
none is committed here) served from 127.0.0.1 as it is; each of its top-level .html pages is
rendered ``--runs`` times by a warm engine at 1200x630, and its readiness, what the wait
was last held by and the median time are printed as a Markdown table. What a template asks
of the internet (web fonts, CDNs) fails at once here, as it does for every render here.

It imports nothing but ``worker.engines``, so that the same script measures an older
checkout's engines too, in the same hour on the same machine:
``PYTHONPATH=/path/to/old/checkout .venv/bin/python bench/templates.py DIR``.
"""

from __future__ import annotations

import argparse
import collections
import functools
import statistics
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from worker.engines import make_engine


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve(directory: Path) -> ThreadingHTTPServer:
    """Serve ``directory`` on a free loopback port, in a daemon thread."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(directory: Path, engine: str, runs: int) -> list[list[str]]:
    """One row per page of ``directory``: its readiness, wait and median render time."""
    server = serve(directory)
    running = make_engine(engine, 15)
    rows = []
    try:
        for page in sorted(directory.glob("*.html")):
            url = f"http://127.0.0.1:{server.server_port}/{page.name}"
            outcomes, waits, times = collections.Counter(), collections.Counter(), []
            for _ in range(runs):
                started = time.perf_counter()
                try:
                    shot = running.screenshot(url, 1200, 630, 1)
                except Exception as exc:  # noqa: BLE001 - an older engine's failure is a result
                    outcomes[f"failed: {str(exc)[:60]}"] += 1
                    running.close()
                    running = make_engine(engine, 15)
                    continue
                finally:
                    times.append((time.perf_counter() - started) * 1000)
                outcomes[shot.readiness[:70]] += 1
                waits[getattr(shot, "waited", "(not kept)") or "nothing"] += 1
            readiness = ", ".join(f"{o} ({n})" if len(outcomes) > 1 else o
                                  for o, n in outcomes.most_common())  # fmt: skip
            waited = ", ".join(w for w, _ in waits.most_common()) or "-"
            name = f"{directory.name}/{page.name}"
            rows.append([name, engine, readiness, waited, f"{statistics.median(times):.0f}"])
    finally:
        running.close()
        server.shutdown()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Render every template page and print the table."""
    parser = argparse.ArgumentParser(prog="bench/templates.py")
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--engines", default="firefox,chromium")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print("| page | engine | readiness | waited last for | median ms |")
    print("|---|---|---|---|---:|")
    for engine in args.engines.split(","):
        for directory in args.dirs:
            for row in measure(directory, engine, args.runs):
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
