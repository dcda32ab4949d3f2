"""Deployment files: linted and validated here, since no Docker engine runs on these machines."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.config import environment_names
from tests.helpers import require

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("dockerfile", ["Dockerfile.web", "Dockerfile.worker"])
def test_dockerfiles_pass_hadolint(dockerfile: str) -> None:
    """hadolint finds nothing in either Dockerfile."""
    done = subprocess.run([require("hadolint"), str(ROOT / dockerfile)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_is_valid(tmp_path: Path) -> None:
    """docker-compose validates the file with .env made from .env.example."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    done = subprocess.run(
        [require("docker-compose"), "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_env_example_names_exactly_the_variables_read() -> None:
    """.env.example lists every variable ogshot reads, and no other."""
    text = (ROOT / ".env.example").read_text()
    listed = re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(environment_names())


def test_worker_image_installs_with_the_ci_script() -> None:
    """Dockerfile.worker and .ci/run share scripts/install-system-deps.sh."""
    assert "install-system-deps.sh" in (ROOT / "Dockerfile.worker").read_text()
    assert "scripts/setup" in (ROOT / ".ci" / "run").read_text()
    assert "install-system-deps.sh" in (ROOT / "scripts" / "setup").read_text()
