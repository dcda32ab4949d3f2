"""SSRF: no request, however spelled or however a page tries, reaches an internal server.

The canary listens on 127.0.0.2, a loopback address outside OGSHOT_ALLOW_PRIVATE_NETWORKS
(127.0.0.1/32): it stands for the metadata service, the database, the admin panel.
"""

from __future__ import annotations

import threading

import pytest
import requests

from tests.e2e.conftest import Stack
from tests.helpers import ATTACKS, PageServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]

# {t} is the canary's host:port, {p} its port.
VECTORS = [
    "http://{t}/", "HTTP://{t}/", "hTtP://{t}/", "http://2130706434:{p}/", "http://0x7f000002:{p}/",
    "http://0x7f.0.0.2:{p}/", "http://0177.0.0.2:{p}/", "http://0177.0000.0000.0002:{p}/",
    "http://127.2:{p}/", "http://127.0.2:{p}/", "http://017700000002:{p}/",
    "http://[::ffff:127.0.0.2]:{p}/", "http://[::ffff:7f00:2]:{p}/",
    "http://[0:0:0:0:0:ffff:127.0.0.2]:{p}/", "http://[64:ff9b::127.0.0.2]:{p}/",
    "http://[2002:7f00:2::]:{p}/", "http://[::127.0.0.2]:{p}/", "http://0.0.0.0:{p}/",
    "http://0:{p}/", "http://[::]:{p}/", "http://[::1]:{p}/", "http://localhost:{p}/",
    "http://localhost.:{p}/", "http://127.0.0.1@{t}/", "http://127.0.0.1:x@{t}/",
    "http://{t}\\@127.0.0.1/", "http://127.0.0.1\\@{t}/", "http://{t}%2F@127.0.0.1/",
    "http://127.0.0.1.127.0.0.2.nip.io:{p}/", "http://127.0.0.2.:{p}/", "file:///etc/passwd",
    "file://127.0.0.2/etc/passwd", "gopher://{t}/_GET", "dict://{t}/", "ftp://{t}/",
    "javascript:fetch('http://{t}/')", "data:text/html,<script>location='http://{t}/'</script>",
    "ws://{t}/", "//{t}/", "http:/{t}/", "http:\\\\{t}/", "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]:{p}/", "http://100.64.0.1/", "http://[fd00::1]/",
]  # fmt: skip


@pytest.mark.parametrize("vector", VECTORS)
def test_refused_before_anything_is_fetched(stack: Stack, canary: PageServer, vector: str) -> None:
    """Each vector is a 400 or 403 with a reason, and the canary receives nothing."""
    before = canary.total()
    page = vector.format(t=f"127.0.0.2:{canary.port}", p=canary.port)
    response = requests.get(stack.image_url(page), timeout=60)
    assert response.status_code in (400, 403), (vector, response.status_code, response.text)
    assert response.text.strip()
    assert canary.total() == before


@pytest.mark.parametrize("kind", [*sorted(ATTACKS), "redirect"])
def test_pages_cannot_reach_the_canary(stack: Stack, canary: PageServer, kind: str) -> None:
    """A page on an allowed origin that redirects, embeds, fetches or navigates to the canary
    renders (or fails cleanly, with the fallback); the canary receives nothing."""
    before = canary.total()
    target = f"http://127.0.0.2:{canary.port}/page/secret"
    page = stack.pages.url(f"/attack/{kind}?target={target}&via={stack.name}")
    response = requests.get(stack.image_url(page), timeout=60)
    assert response.status_code == 200
    outcome = response.headers["X-Ogshot-Cache"], response.headers.get("X-Ogshot-Reason")
    # A fallback because the render failed, not one still pending (which would hide a render
    # that reaches the canary after the answer).
    assert outcome in (("miss", None), ("fallback", "render failed")), outcome
    assert canary.total() == before


def test_too_many_redirects_fail_the_render(stack: Stack) -> None:
    """More than five redirects for the main document fail the render: the fallback."""
    response = requests.get(stack.image_url(stack.pages.url(f"/hops/7?{stack.name}")), timeout=60)
    assert response.headers["X-Ogshot-Cache"] == "fallback"
    assert response.headers["X-Ogshot-Reason"] == "render failed"
    fine = requests.get(stack.image_url(stack.pages.url(f"/hops/3?{stack.name}")), timeout=60)
    assert fine.headers["X-Ogshot-Cache"] == "miss"


def test_a_page_pulling_too_many_bytes_fails(stack: Stack) -> None:
    """A page larger than OGSHOT_MAX_PAGE_BYTES (2 MB here) fails the render: the fallback."""
    response = requests.get(stack.image_url(stack.pages.url(f"/big/3?{stack.name}")), timeout=60)
    assert response.headers["X-Ogshot-Cache"] == "fallback"
    assert response.headers["X-Ogshot-Reason"] == "render failed"


def test_pages_at_once_cannot_reach_the_canary(stack_at_once: Stack, canary: PageServer) -> None:
    """Every attack page at once in one browser (a user context and egress guard each,
    issue 27), beside a page too big, one redirected too often and a plain one: the
    canary receives nothing, the two over their limits fail, and the plain page, whose
    counts are its own, renders."""
    stack = stack_at_once
    before = canary.total()
    target = f"http://127.0.0.2:{canary.port}/page/secret"
    via = f"via={stack.name}"
    attacks = {
        kind: f"/attack/{kind}?target={target}&{via}" for kind in [*sorted(ATTACKS), "redirect"]
    }
    over = {"big": f"/big/3?{via}", "hops": f"/hops/7?{via}"}
    paths = {**attacks, **over, "plain": f"/page/{stack.name}-plain"}
    answers: dict[str, requests.Response] = {}

    def fetch(name: str) -> None:
        answers[name] = requests.get(stack.image_url(stack.pages.url(paths[name])), timeout=120)

    crawlers = [threading.Thread(target=fetch, args=(name,)) for name in paths]
    for crawler in crawlers:
        crawler.start()
    for crawler in crawlers:
        crawler.join(150)
    outcomes = {name: outcome(answer) for name, answer in answers.items()}
    for kind in attacks:
        assert outcomes[kind] in ((200, "miss", None), (200, "fallback", "render failed")), kind
    assert canary.total() == before
    assert [outcomes[name] for name in over] == [(200, "fallback", "render failed")] * 2, outcomes
    assert outcomes["plain"] == (200, "miss", None), outcomes


def outcome(answer: requests.Response) -> tuple[int, str, str | None]:
    """An image answer's status, what ogshot served and why."""
    return (
        answer.status_code,
        answer.headers["X-Ogshot-Cache"],
        answer.headers.get("X-Ogshot-Reason"),
    )
