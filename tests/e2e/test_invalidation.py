"""Hits served from memory without asking storage, and changes still seen at once.

Each stack's worker renders and stores as deployed; a second web tier of two gunicorn
processes, whose memory copies stay trusted for ten minutes (only an announcement can drop
them in time), serves the image. After a re-render and after an admin delete, every process
answers with the change: the test polls with a bound, it asserts no timing.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from shared.keys import RenderRequest
from tests.e2e.conftest import ADMIN_PASSWORD, Stack
from tests.e2e.test_prewarm import until
from tests.helpers import PAGE, free_port, start, stop_process, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]

TRUSTED_FOR = "600"  # OGSHOT_MEMORY_CACHE_SECONDS of the two-process web
ROUND = 16  # requests sent at once, so both processes take some


class TwoProcessWeb:
    """``ogshot web --workers 2`` on a stack's Redis and store, logging JSON lines."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def served(self, key: str, since: int, cache: str = "hit|stale") -> collections.Counter[int]:
        """Requests for ``key`` answered as ``cache`` (a regular expression), by process,
        since the log had ``since`` bytes."""
        counts: collections.Counter[int] = collections.Counter()
        with self.log.open("rb") as handle:
            handle.seek(since)
            for line in handle.read().decode(errors="replace").splitlines():
                if not line.startswith("{"):
                    continue
                record = json.loads(line)
                if (
                    record.get("logger") == "web.access"
                    and f"key={key}" in record.get("message", "")
                    and re.search(rf" cache=({cache}) ", record["message"])
                ):
                    counts[record["process"]] += 1
        return counts

    def round(self, image_url: str) -> list[requests.Response]:
        """ROUND requests at once, each on its own connection."""
        with ThreadPoolExecutor(ROUND) as pool:
            return list(pool.map(lambda _: requests.get(image_url, timeout=30), range(ROUND)))


# Both stores, each engine once: the engine only makes the image.
STORES = {"firefox-fs", "chromium-s3"}


@pytest.fixture
def two_process_web(stack: Stack) -> Iterator[TwoProcessWeb]:
    """A second web tier of two processes for the stack, memory copies trusted long."""
    if stack.name not in STORES:
        pytest.skip("each store is tested with one engine")
    port = free_port()
    log = stack.logs / f"web-two-{port}.log"
    env = {**stack.env, "OGSHOT_MEMORY_CACHE_SECONDS": TRUSTED_FOR, "OGSHOT_LOG_FORMAT": "json"}
    argv = ["ogshot", "web", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    proc = start(argv, env, log)
    try:
        wait_for_port("127.0.0.1", port, proc=proc)
        yield TwoProcessWeb(f"http://127.0.0.1:{port}", log)
    finally:
        stop_process(proc)


def _both_serve(web: TwoProcessWeb, image_url: str, key: str, etag: str) -> bool:
    """Whether a round of requests all answered ``etag``, served by both processes."""
    since = web.log.stat().st_size
    if any(answer.headers.get("ETag") != etag for answer in web.round(image_url)):
        return False
    # The log writer writes every 50 ms: wait for this round's lines.
    until(lambda: sum(web.served(key, since).values()) >= ROUND, timeout=10)
    return len(web.served(key, since)) == 2


def _none_serve(web: TwoProcessWeb, image_url: str, key: str) -> bool:
    """Whether a round of requests all went without a stored image, in both processes."""
    since = web.log.stat().st_size
    if any(answer.headers.get("X-Ogshot-Cache") != "fallback" for answer in web.round(image_url)):
        return False
    until(lambda: sum(web.served(key, since, "fallback").values()) >= ROUND, timeout=10)
    return len(web.served(key, since, "fallback")) == 2


def _csrf(page: requests.Response) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return token.group(1)


def test_a_replaced_or_deleted_image_leaves_every_web_process(
    stack: Stack, two_process_web: TwoProcessWeb
) -> None:
    """Both processes serve the image from memory; a re-render (the worker announces it)
    and an admin delete (this web announces it) reach both without waiting out the 600 s."""
    name = f"{stack.name}-announced.html"
    stack.pages.files[name] = PAGE.format(title="announced", bg="ff0000").encode()
    url = stack.pages.url(f"/files/{name}")
    first = stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"][0]
    assert stack.wait_job(first["id"])["status"] == "done"
    key = RenderRequest.build(url).cache_key()
    image_url = stack.image_url(url, web=two_process_web.url)
    old = requests.get(image_url, timeout=30)
    assert old.headers["X-Ogshot-Cache"] == "hit"
    until(lambda: _both_serve(two_process_web, image_url, key, old.headers["ETag"]), timeout=60)

    stack.pages.files[name] = PAGE.format(title="announced", bg="00ffff").encode()
    again = stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"][0]
    assert stack.wait_job(again["id"])["status"] == "done"
    new_etag = requests.head(stack.image_url(url), timeout=30).headers["ETag"]
    assert new_etag != old.headers["ETag"]
    until(lambda: _both_serve(two_process_web, image_url, key, new_etag), timeout=15)

    # Gone from the site too: a miss after the delete cannot bring an image back.
    stack.pages.statuses[name] = 404
    admin = requests.Session()
    login = f"{two_process_web.url}/admin/login"
    form = {"password": ADMIN_PASSWORD, "csrf": _csrf(admin.get(login, timeout=30))}
    assert admin.post(login, data=form, timeout=30).status_code == 200
    detail = admin.get(f"{two_process_web.url}/admin/image/{key}", timeout=30)
    deleted = admin.post(f"{two_process_web.url}/admin/image/{key}/delete",
                         data={"csrf": _csrf(detail)}, timeout=30)  # fmt: skip
    assert deleted.status_code == 200
    until(lambda: _none_serve(two_process_web, image_url, key), timeout=15)
