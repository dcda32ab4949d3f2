"""`ogshot prewarm`: read URLs (arguments, a file, a sitemap), send them to a running service
in batches, optionally follow the jobs, and summarize.

The calls are the site helper's (ogshot_client.ApiClient: timeouts, retries with backoff, the
API's error shapes in one place); the progress bars are rich's, which draws them live on a
terminal and, in a log, writes their final state once instead of control characters.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from xml.etree import ElementTree

from ogshot_client import ApiClient, ApiError

from ogshot.options import query_options
from shared.config import load_client_config

if TYPE_CHECKING:
    from rich.progress import Progress

MAX_SITEMAP_DEPTH = 3
MAX_SITEMAP_URLS = 200_000


def _load(source: str, timeout: float = 30) -> bytes:
    if source.startswith(("http://", "https://")):
        # http(s) only, checked above.
        request = urllib.request.Request(source, headers={"User-Agent": "ogshot-prewarm"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read()
    else:
        data = Path(source).read_bytes()
    return data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_sitemap(source: str, load: Callable[[str], bytes] = _load, depth: int = 0) -> list[str]:
    """Return the page URLs of a sitemap or sitemap index (gzip or not, URL or path)."""
    data = load(source)
    if data[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        data = gzip.decompress(data)
    root = ElementTree.fromstring(data)  # noqa: S314 - expat refuses entity expansion bombs
    locs = [el.text.strip() for el in root.iter() if _local(el.tag) == "loc" and el.text]
    if _local(root.tag) != "sitemapindex":
        return locs[:MAX_SITEMAP_URLS]
    if depth >= MAX_SITEMAP_DEPTH:
        raise ValueError(f"sitemap indexes nested deeper than {MAX_SITEMAP_DEPTH} at {source}")
    urls: list[str] = []
    for child in locs:
        urls += read_sitemap(child, load, depth + 1)
        if len(urls) >= MAX_SITEMAP_URLS:
            break
    return urls[:MAX_SITEMAP_URLS]


def read_url_file(path: str) -> list[str]:
    """Return the URLs of a file with one per line (blank lines and # comments skipped)."""
    lines = (line.strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass
class Summary:
    """What became of the URLs."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by job id
    rejected: list[dict[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many jobs ended (or stand) in ``status``."""
        return sum(1 for job in self.jobs.values() if job["status"] == status)


def _bars(out: TextIO) -> Progress:
    # Imported here: every other command (health checks every few seconds in a container)
    # would pay ~70 ms to load rich.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=out),
    )


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run(
    client: ApiClient,
    urls: list[str],
    options: dict[str, Any],
    *,
    version: str | None = None,
    webhook: str | None = None,
    batch_size: int = 100,
    wait: bool = False,
    timeout: float = 600,
    out: TextIO = sys.stderr,
) -> Summary:
    """Send ``urls`` in batches; with ``wait``, follow every job until it ends or time runs out."""
    summary = Summary()
    with _bars(out) as bars:
        sending = bars.add_task("sent", total=len(urls))
        for batch in _batches(urls, batch_size):
            answer = client.prewarm(batch, options, version=version, webhook_url=webhook)
            for job in answer["jobs"]:
                summary.jobs[job["id"]] = job
            summary.rejected += answer["rejected"]
            bars.advance(sending, len(batch))
        if wait:
            _follow(client, summary, bars, timeout)
    return summary


def _follow(client: ApiClient, summary: Summary, bars: Progress, timeout: float) -> None:
    """Poll every job that has not ended until all have or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    open_ids = [i for i, job in summary.jobs.items() if job["status"] not in ("done", "failed")]
    total = len(summary.jobs)
    rendering = bars.add_task("rendered", total=total, completed=total - len(open_ids))
    while open_ids and time.monotonic() < deadline:
        for job_id in list(open_ids):
            job = client.job(job_id)
            summary.jobs[job_id].update(status=job["status"], error=job.get("error"))
            if job["status"] in ("done", "failed"):
                open_ids.remove(job_id)
        bars.update(rendering, completed=total - len(open_ids))
        if open_ids:
            time.sleep(0.5)


def report(summary: Summary, waited: bool, out: TextIO = sys.stdout) -> int:
    """Print the final summary; return the exit code (0 only if nothing failed or was refused)."""
    done, failed = summary.count("done"), summary.count("failed")
    pending = len(summary.jobs) - done - failed
    label = "pending" if waited else "queued"
    print(f"{done} done, {failed} failed, {len(summary.rejected)} rejected, {pending} {label}",
          file=out)  # fmt: skip
    for job in summary.jobs.values():
        if job["status"] == "failed":
            print(f"  failed   {job['url']}: {job.get('error') or 'unknown error'}", file=out)
    for item in summary.rejected:
        print(f"  rejected {item['url']}: {item['reason']}", file=out)
    if failed or summary.rejected or (waited and pending):
        return 1
    return 0


def cmd_prewarm(args: argparse.Namespace) -> int:
    """Send pre-warms to a running service and report what became of them."""
    client_config = load_client_config()
    token = args.token or client_config.token
    if not token:
        print("ogshot: no API token: set OGSHOT_API_TOKEN or pass --token", file=sys.stderr)
        return 2
    try:
        urls = list(args.urls)
        if args.file:
            urls += read_url_file(args.file)
        if args.sitemap:
            urls += read_sitemap(args.sitemap)
    except (OSError, ValueError) as exc:
        print(f"ogshot: cannot read the URLs: {exc}", file=sys.stderr)
        return 2
    if not urls:
        print("ogshot: no URLs given (arguments, --file or --sitemap)", file=sys.stderr)
        return 2
    options = query_options(args)
    try:
        client = ApiClient(args.server or client_config.server, token)
        summary = run(client, urls, options, version=args.version, webhook=args.webhook,
                      batch_size=args.batch_size, wait=args.wait, timeout=args.timeout)  # fmt: skip
    except ApiError as exc:
        print(f"ogshot: {exc}", file=sys.stderr)
        return 2
    return report(summary, waited=args.wait)
