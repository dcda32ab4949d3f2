"""Fixtures of the engine tests: one warm browser per engine and module, and a pair of idle
browsers that show what the browsers ask for of their own."""

from __future__ import annotations

import ipaddress
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pytest

from shared.urlpolicy import UrlPolicy
from tests.helpers import BINARIES, PageServer, require
from worker.egress import EgressGuard, Session
from worker.engines import PLAIN, Engine, EngineOptions, PageOptions, Shot, make_engine
from worker.engines.contexts import ContextEngine
from worker.engines.launch import start

ENGINES = ["firefox", "chromium"]


def _engines(module: ModuleType) -> list[str]:
    """Each engine; and, as renders at once (issue 27), those a module names in AT_ONCE, or
    every engine in each module that has AT_ONCE where OGSHOT_TESTS_AT_ONCE is "all" (the
    whole render-quality suite beside a crowd: 218 tests, some 7 minutes more)."""
    if not hasattr(module, "AT_ONCE"):
        return ENGINES
    at_once = ENGINES if os.environ.get("OGSHOT_TESTS_AT_ONCE") == "all" else module.AT_ONCE
    return [*ENGINES, *(f"{name}-at-once" for name in at_once)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Not where a module has an engine fixture of its own, or a test its own engine values.
    own = any(
        "engine" in str(mark.args[0]) for mark in metafunc.definition.iter_markers("parametrize")
    )
    if "engine" in metafunc.fixturenames and not own and not hasattr(metafunc.module, "engine"):
        metafunc.parametrize("engine", _engines(metafunc.module), indirect=True, scope="module")


@pytest.fixture(scope="module")
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One warm browser per engine, shared by a module's tests. As "<engine>-at-once", the
    engine of renders at once, with CROWD other renders in flight beside the test's own in
    the same browser: the test then shows that renders at once look as renders alone."""
    name, _, at_once = str(request.param).partition("-")
    for binary in BINARIES[name]:
        require(binary)
    # A module that sets INSECURE_CERTS renders pages of the tests' own HTTPS server.
    insecure = getattr(request.module, "INSECURE_CERTS", False)
    running: Engine
    if at_once:
        options = EngineOptions(render_timeout=10, insecure_certs=insecure)
        running = Crowded(start(name, options), request.getfixturevalue("pages"))
    else:
        running = make_engine(name, render_timeout=10, insecure_certs=insecure)
    yield running
    running.close()


CROWD = 3  # renders in flight beside each of a test's own
# Mostly waiting on the network (a frame after 2 s, a fetch answered after 1.5 s), with
# timers, animation frames and a CSS animation going: in flight most of the time, at little
# CPU (each render of it is a new context, and a test's render waits for the machine too).
CROWD_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>crowd</title><style>
body { margin: 0; background: #fafafa; font: 20px sans-serif; }
.spin { width: 80px; height: 80px; background: #c33; animation: spin 1s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
</style></head><body><h1>One of the crowd</h1><div class="spin"></div><p id="ticks">0</p>
<iframe src="/page/crowd-frame?delay=2" width="300" height="150"></iframe>
<script>
let ticks = 0;
setInterval(() => { document.getElementById("ticks").textContent = ++ticks; }, 300);
fetch("/page/crowd-data?delay=1.5").then((answer) => answer.text()).then((text) => {
  document.body.insertAdjacentHTML("beforeend", `<p>fetched ${text.length} bytes</p>`);
});
</script></body></html>"""


class Crowded:
    """A ContextEngine with CROWD renders of a busy page going on in it, one after another
    in each of CROWD threads, for as long as it runs: a test's renders run beside them."""

    def __init__(self, engine: ContextEngine, pages: PageServer) -> None:
        self.name = engine.name
        self._engine = engine
        pages.files["crowd.html"] = CROWD_PAGE
        self._busy = pages.url("/files/crowd.html")
        self._done = threading.Event()
        self._failed: list[BaseException] = []
        self._crowd = [threading.Thread(target=self._again, daemon=True) for _ in range(CROWD)]
        for other in self._crowd:
            other.start()

    def screenshot(
        self, url: str, width: int, height: int, scale: int, page: PageOptions = PLAIN
    ) -> Shot:
        shot = self._engine.screenshot(url, width, height, scale, page)
        # A test passes only beside its crowd: none of it may have stopped.
        assert not self._failed, f"a render of the crowd failed: {self._failed[0]!r}"
        return shot

    def _again(self) -> None:
        while not self._done.is_set():
            try:
                self._engine.screenshot(self._busy, 1200, 630, 1)
            except Exception as exc:  # noqa: BLE001 - handed to the test's render
                if not self._done.is_set():
                    self._failed.append(exc)
                return

    def close(self) -> None:
        self._done.set()
        for other in self._crowd:
            other.join(60)
        self._engine.close()


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
