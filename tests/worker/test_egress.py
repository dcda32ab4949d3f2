"""The egress guard as a real proxy on loopback, with a canary it must never reach."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest
import requests

from shared.urlpolicy import UrlPolicy
from tests.helpers import PageServer
from worker.egress import EgressGuard, GuardPool

LOCAL = UrlPolicy(("127.0.0.1",), (ipaddress.ip_network("127.0.0.1/32"),))


@pytest.fixture
def guard() -> Iterator[EgressGuard]:
    """A guard that allows 127.0.0.1 (the pages) and nothing else private."""
    running = EgressGuard(LOCAL, max_bytes=1_000_000, max_requests=20)
    yield running
    running.close()


def via(guard: EgressGuard, url: str) -> requests.Response:
    """GET ``url`` through the guard."""
    proxy = f"http://127.0.0.1:{guard.port}"
    return requests.get(url, proxies={"http": proxy, "https": proxy}, timeout=10)


def test_allowed_page_passes(guard: EgressGuard, pages: PageServer) -> None:
    """A page at an allowed address comes back through the guard, counted."""
    session = guard.new_session()
    response = via(guard, pages.url("/page/egress-ok"))
    assert response.status_code == 200
    assert "egress-ok" in response.text
    assert session.requests == 1
    assert session.bytes >= len(response.content)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/",
        "http://0x7f000002:{port}/",
        "http://2130706434:{port}/",
        "http://127.2:{port}/",
        "http://[::ffff:127.0.0.2]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://[::1]:{port}/",
    ],
)
def test_internal_addresses_are_refused(
    guard: EgressGuard, canary: PageServer, target: str
) -> None:
    """Every spelling of an internal address gets the guard's 403; the canary hears nothing."""
    before = canary.total()
    session = guard.new_session()
    response = via(guard, target.format(port=canary.port))
    assert response.status_code == 403
    assert "egress guard" in response.text
    assert session.blocked
    assert canary.total() == before


def test_connect_tunnels_are_checked_too(guard: EgressGuard, canary: PageServer) -> None:
    """HTTPS goes through CONNECT, and CONNECT to an internal address is refused."""
    with socket.create_connection(("127.0.0.1", guard.port), timeout=5) as sock:
        sock.sendall(f"CONNECT 127.0.0.2:{canary.port} HTTP/1.1\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 403")
    with socket.create_connection(("127.0.0.1", guard.port), timeout=5) as sock:
        sock.sendall(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")  # allowed address, nothing there
        assert sock.recv(100).startswith(b"HTTP/1.1 502")
    assert canary.total() == 0


def test_dns_answer_is_pinned(pages: PageServer, canary: PageServer) -> None:
    """The guard connects to the address it checked, even if a second lookup would differ."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])  # a rebinding resolver
    guard = EgressGuard(
        UrlPolicy(("rebind.test",), (ipaddress.ip_network("127.0.0.1/32"),)),
        1_000_000, 20, resolve=lambda host, port: next(answers),
    )  # fmt: skip
    try:
        response = via(guard, f"http://rebind.test:{pages.port}/page/pinned")
        assert response.status_code == 200
        assert canary.total() == 0
    finally:
        guard.close()


def test_name_resolving_to_a_private_address_is_refused(canary: PageServer) -> None:
    """A public-looking name whose answer is private is refused before any connection."""
    guard = EgressGuard(LOCAL, 1_000_000, 20, resolve=lambda host, port: ["127.0.0.2"])
    try:
        assert via(guard, f"http://innocent.example:{canary.port}/").status_code == 403
        assert canary.total() == 0
    finally:
        guard.close()


def test_ports_outside_the_allowed_list_are_refused() -> None:
    """A public address on a port outside OGSHOT_ALLOWED_PORTS is refused without connecting."""
    guard = EgressGuard(LOCAL, 1_000_000, 20, resolve=lambda host, port: ["93.184.216.34"])
    try:
        session = guard.new_session()
        assert via(guard, "http://example.com:6379/").status_code == 403
        assert "OGSHOT_ALLOWED_PORTS" in session.blocked[0]
    finally:
        guard.close()


def test_other_schemes_are_refused(guard: EgressGuard) -> None:
    """Only http goes through as a proxied request (https uses CONNECT)."""
    with socket.create_connection(("127.0.0.1", guard.port), timeout=5) as sock:
        sock.sendall(b"GET ftp://127.0.0.1/ HTTP/1.1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 403")


def test_byte_and_request_limits(pages: PageServer) -> None:
    """A page pulling too many bytes, or making too many requests, breaks the render's limits."""
    guard = EgressGuard(LOCAL, max_bytes=100_000, max_requests=3)
    try:
        session = guard.new_session()
        with pytest.raises(requests.RequestException):
            via(guard, pages.url("/big/1")).raise_for_status()
        assert session.exceeded is not None
        assert "bytes" in session.exceeded
        session = guard.new_session()
        statuses = [via(guard, pages.url(f"/page/n{i}")).status_code for i in range(4)]
        assert statuses == [200, 200, 200, 403]
        assert "requests" in (session.exceeded or "")
    finally:
        guard.close()


def test_a_pool_hands_out_the_guard_given_back_last() -> None:
    """Renders one at a time keep to one guard (the engine's spare context is behind it);
    renders at once each hold a guard of their own, never the browser's."""
    pool = GuardPool(LOCAL, max_bytes=1000, max_requests=3, slots=3)
    try:
        alone = []
        for _ in range(4):
            with pool.take() as guard:
                alone.append(guard.port)
        assert len(set(alone)) == 1
        with pool.take() as one, pool.take() as two, pool.take() as three:
            held = {one.port, two.port, three.port}
        assert len(held) == 3
        assert pool.port not in held
        assert alone[0] in held
    finally:
        pool.close()
