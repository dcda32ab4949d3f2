"""Fixtures of the engine tests: one warm browser per engine and module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import BINARIES, require
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
