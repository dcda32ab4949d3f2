"""The JSON API against its OpenAPI document, with schemathesis, on a running gunicorn server.

Generated bodies, paths and headers must never produce a 500, and every response must match
the document. Nothing renders here: accepted pre-warms stay queued in a private Redis.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, ogshot_env, require, serving

pytestmark = pytest.mark.server
TOKEN = "schema-token-0123456789abcdef"


@pytest.fixture(scope="module")
def web(redis_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ogshot web` on a free port, with a private Redis database and store."""
    tmp: Path = tmp_path_factory.mktemp("openapi")
    port = free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/9",
        OGSHOT_STORAGE_URL=str(tmp / "images"),
        OGSHOT_API_TOKENS=TOKEN,
        OGSHOT_WEBHOOK_HOSTS="127.0.0.1,hooks.example.com",
        OGSHOT_WEBHOOK_SECRET="schema-webhook-secret-0123456789abcdef",
    )
    argv = [require("ogshot"), "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with serving(argv, port, env, tmp / "web.log"):
        yield f"http://127.0.0.1:{port}"


def test_api_matches_its_document(web: str, tmp_path: Path) -> None:
    """No generated request gets a 5xx, and every response matches the document."""
    argv = [
        require("schemathesis"), "run", f"{web}/api/openapi.json",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", "all",
        # The document cannot say what a CSS selector is: a string it allows for wait_for,
        # hide or selector may still be no selector, and is then rightly a 400.
        "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "40",
        "--seed", "1",
        "--generation-deterministic",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    # Run in tmp_path: schemathesis keeps a cache directory in its working directory.
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-4000:]
