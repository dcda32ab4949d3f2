"""Fixtures of the engine tests: one warm browser per engine and module, and a pair of idle
browsers that show what the browsers ask for of their own."""

from __future__ import annotations

import ipaddress
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from shared.urlpolicy import UrlPolicy
from tests.helpers import BINARIES, PageServer, require
from worker.egress import EgressGuard, Session
from worker.engines import Engine, make_engine


@pytest.fixture(scope="module", params=["firefox", "chromium"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One warm browser per engine, shared by a module's tests."""
    for binary in BINARIES[request.param]:
        require(binary)
    # A module that sets INSECURE_CERTS renders pages of the tests' own HTTPS server.
    insecure = getattr(request.module, "INSECURE_CERTS", False)
    running = make_engine(request.param, render_timeout=10, insecure_certs=insecure)
    yield running
    running.close()


# How long the idle browsers are left alone: the browsers' own requests (updates, telemetry,
# remote settings, sign-in, safe browsing) start on timers within the first minute or two.
IDLE_SECONDS = 120


@dataclass
class Idle:
    """Warm browsers, each behind its own egress guard, left alone after rendering a page of
    their own page server; ``sessions`` count what went through the guards since ``since``."""

    page: PageServer
    engines: dict[str, Engine] = field(default_factory=dict)
    guards: dict[str, EgressGuard] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    since: float = 0.0
    hits: int = 0  # the page server's requests when the idle time began


@pytest.fixture(scope="package", autouse=True)
def idle() -> Iterator[Idle]:
    """Both engines, started when the engine tests start and idle while they run, so that
    tests/worker/test_idle.py (the last module) waits only what is left of IDLE_SECONDS."""
    policy = UrlPolicy(("127.0.0.1",), (ipaddress.ip_network("127.0.0.1/32"),))
    state = Idle(PageServer())
    try:
        for name, binaries in BINARIES.items():
            if not all(shutil.which(binary) for binary in binaries):
                continue  # test_idle skips (or fails under CI) through require()
            state.guards[name] = EgressGuard(policy, max_bytes=10_000_000, max_requests=1_000)
            state.engines[name] = make_engine(name, 10, state.guards[name].port)
            state.engines[name].screenshot(state.page.url("/page/idle"), 1200, 630, 1)
        time.sleep(1)  # what the page itself asks for after load (a favicon) is done
        state.since, state.hits = time.monotonic(), state.page.total()
        state.sessions = {name: guard.new_session() for name, guard in state.guards.items()}
        yield state
    finally:
        for engine in state.engines.values():
            engine.close()
        for guard in state.guards.values():
            guard.close()
        state.page.close()
