"""Idle warm browsers make no requests of their own (updates, telemetry, remote settings,
sign-in, safe browsing, connectivity checks): the egress guard sees only the page's.

The browsers are started by the package fixture ``idle`` when the engine tests begin; this
module, the last of tests/worker, waits what is left of IDLE_SECONDS.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers import BINARIES, require
from tests.worker.conftest import IDLE_SECONDS, Idle

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name", ["firefox", "chromium"])
def test_an_idle_browser_asks_for_nothing(idle: Idle, name: str) -> None:
    """Two minutes after rendering a page, nothing went through the guard but that page's."""
    for binary in BINARIES[name]:
        require(binary)
    time.sleep(max(0.0, idle.since + IDLE_SECONDS - time.monotonic()))
    session = idle.sessions[name]
    assert session.blocked == []
    # Whatever did go through was the page's own (its server counted it).
    assert session.requests <= idle.page.total() - idle.hits
