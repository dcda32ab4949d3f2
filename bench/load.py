"""Load and measurements: wrk for throughput and latency, paced requests, memory of a process tree."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

# wrk reports through this script: JSON is sturdier to read than its text table. ``delay``
# paces each connection (a steady stream rather than as fast as the server allows).
_WRK_SCRIPT = """
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if pause > 0 then delay = function() return pause end end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "bad": %d, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (latencies in ms)."""

    requests: int
    seconds: float
    p50: float
    p99: float
    bad: int  # answers that were not 2xx/3xx
    errors: int  # connect, read, write errors and timeouts

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


def wrk(
    url: str, *, connections: int, seconds: float, threads: int = 2, delay_ms: int = 0
) -> WrkResult:
    """Run wrk against ``url`` and return its figures."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/setup --dev does)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT)
        script.flush()
        argv = [binary, "-t", str(min(threads, connections)), "-c", str(connections),
                "-d", f"{seconds:g}s", "--timeout", "30s", "-s", script.name, url]  # fmt: skip
        out = subprocess.run(
            argv, capture_output=True, text=True, check=True, env={"WRK_DELAY_MS": str(delay_ms)}
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    return WrkResult(**json.loads(line[4:]))


@dataclass
class PacedResult:
    """Statuses and cache outcomes of paced requests."""

    statuses: Counter[int]
    outcomes: Counter[str]
    latencies: list[float]

    @property
    def server_errors(self) -> int:
        """Answers of 500 and above, and requests that got no answer at all (status 0)."""
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)


def paced(urls: list[str], seconds: float, timeout: float = 60) -> PacedResult:
    """GET each of ``urls`` in turn, evenly spread over ``seconds``, each on its own thread."""
    result = PacedResult(Counter(), Counter(), [])
    lock = threading.Lock()

    def one(url: str) -> None:
        started = time.perf_counter()
        try:
            response = requests.get(url, timeout=timeout)
            status, outcome = response.status_code, response.headers.get("X-Ogshot-Cache", "")
        except requests.RequestException:
            status, outcome = 0, "no answer"
        with lock:
            result.statuses[status] += 1
            result.outcomes[outcome] += 1
            result.latencies.append((time.perf_counter() - started) * 1000)

    interval = seconds / max(1, len(urls))
    started = time.monotonic()
    with ThreadPoolExecutor(len(urls)) as pool:
        for i, url in enumerate(urls):
            time.sleep(max(0.0, started + i * interval - time.monotonic()))
            pool.submit(one, url)
    return result


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[min(98, max(0, int(q) - 1))]


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (browsers and their content processes included)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_pss_mb(root: int) -> float:
    """Proportional set size of a process tree in MiB (shared pages counted once, split)."""
    total_kb = 0
    for pid in tree_pids(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # it ended meanwhile
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


class PeakPss:
    """Samples, while the block runs, the PSS of each child of ``root`` with its own
    descendants (a worker's pool process with its browser), or with ``whole`` of the whole
    tree; ``mb``: the largest seen."""

    EVERY = 0.25

    def __init__(self, root: int, *, whole: bool = False) -> None:
        self.root = root
        self.whole = whole
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            for child in [self.root] if self.whole else _children(self.root):
                self.mb = max(self.mb, tree_pss_mb(child))
            if self._stop.wait(self.EVERY):
                return


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user and system) used so far by ``root`` and its descendants.

    Each live process counts its own time and that of the children it has reaped (a
    browser's content processes that ended, a browser replaced), so nothing that ended in
    the tree is lost.
    """
    ticks = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def busy_cores() -> float:
    """CPU seconds the whole machine has spent busy so far (all cores, idle and iowait left out)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
