"""`ogshot prewarm`: read URLs (arguments, a file, a sitemap), send them to a running service
in batches, optionally follow the jobs, and summarize. Standard library only: it runs on the
site's side, where only this client is needed."""

from __future__ import annotations

import gzip
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree

MAX_SITEMAP_DEPTH = 3
MAX_SITEMAP_URLS = 200_000


class ApiError(RuntimeError):
    """The service refused or could not be reached."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status


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


class ApiClient:
    """Talks to the service's JSON API."""

    def __init__(self, server: str, token: str, timeout: float = 60) -> None:
        if not server.startswith(("http://", "https://")):
            raise ApiError(0, f"server must be an http(s) URL, not {server!r}")
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        # self.server is http(s), checked in __init__.
        request = urllib.request.Request(self.server + path, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                reason = exc.reason
            raise ApiError(exc.code, str(reason)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(0, f"cannot reach {self.server}: {exc}") from None

    def prewarm(self, urls: list[str], options: dict[str, Any]) -> dict[str, Any]:
        """POST one batch to /api/prewarm."""
        result: dict[str, Any] = self._call("POST", "/api/prewarm", {"urls": urls, **options})
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        """GET /api/jobs/<id>."""
        result: dict[str, Any] = self._call("GET", f"/api/jobs/{job_id}")
        return result


@dataclass
class Summary:
    """What became of the URLs."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by job id
    rejected: list[dict[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many jobs ended (or stand) in ``status``."""
        return sum(1 for job in self.jobs.values() if job["status"] == status)


def _progress(out: TextIO, label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    line = f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    if out.isatty():
        out.write("\r" + line + ("\n" if done >= total else ""))
    else:
        out.write(line + "\n")
    out.flush()


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run(
    client: ApiClient,
    urls: list[str],
    options: dict[str, Any],
    *,
    batch_size: int = 100,
    wait: bool = False,
    timeout: float = 600,
    out: TextIO = sys.stderr,
) -> Summary:
    """Send ``urls`` in batches; with ``wait``, follow every job until it ends or time runs out."""
    summary = Summary()
    sent = 0
    for batch in _batches(urls, batch_size):
        answer = client.prewarm(batch, options)
        for job in answer["jobs"]:
            summary.jobs[job["id"]] = job
        summary.rejected += answer["rejected"]
        sent += len(batch)
        _progress(out, "sent", sent, len(urls))
    if not wait:
        return summary
    deadline = time.monotonic() + timeout
    open_ids = [i for i, job in summary.jobs.items() if job["status"] not in ("done", "failed")]
    total = len(summary.jobs)
    while open_ids and time.monotonic() < deadline:
        for job_id in list(open_ids):
            job = client.job(job_id)
            summary.jobs[job_id].update(status=job["status"], error=job.get("error"))
            if job["status"] in ("done", "failed"):
                open_ids.remove(job_id)
        _progress(out, "rendered", total - len(open_ids), total)
        if open_ids:
            time.sleep(0.5)
    return summary


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
