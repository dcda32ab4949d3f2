"""The JSON API against its OpenAPI document, with schemathesis, on a running gunicorn server.

Generated bodies, paths and headers must never produce a 500, and every response must match
the document. Nothing renders here: accepted pre-warms stay queued in a private Redis.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, require, stop_process, wait_for_port

pytestmark = pytest.mark.server
TOKEN = "schema-token-0123456789abcdef"


@pytest.fixture(scope="module")
def web(redis_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ogshot web` on a free port, with a private Redis database and store."""
    tmp: Path = tmp_path_factory.mktemp("openapi")
    port = free_port()
    env = {
        **os.environ,
        "OGSHOT_ALLOWED_HOSTS": "127.0.0.1",
        "OGSHOT_ALLOW_PRIVATE_NETWORKS": "127.0.0.1/32",
        "OGSHOT_REDIS_URL": f"{redis_base}/9",
        "OGSHOT_STORAGE_URL": str(tmp / "images"),
        "OGSHOT_API_TOKENS": TOKEN,
    }
    with (tmp / "web.log").open("wb") as log:
        proc = subprocess.Popen(
            [require("ogshot"), "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port("127.0.0.1", port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def test_api_matches_its_document(web: str, tmp_path: Path) -> None:
    """No generated request gets a 5xx, and every response matches the document."""
    argv = [
        require("schemathesis"), "run", f"{web}/api/openapi.json",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", "all",
        "--max-examples", "40",
        "--seed", "1",
        "--generation-deterministic",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:]
