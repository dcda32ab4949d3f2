"""Deployment files: linted and validated here, since no Docker engine runs on these machines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import environment_names
from tests.helpers import PageServer, require

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.server
@pytest.mark.parametrize("dockerfile", ["Dockerfile.web", "Dockerfile.worker"])
def test_dockerfiles_pass_hadolint(dockerfile: str) -> None:
    """hadolint finds nothing in either Dockerfile."""
    done = subprocess.run([require("hadolint"), str(ROOT / dockerfile)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.server
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


def _runtime_closure() -> dict[str, str]:
    """Installed version of every package ogshot needs at run time (its extras left out)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    todo = [Requirement(r) for r in metadata.requires("ogshot") or []]
    while todo:
        requirement = todo.pop()
        extras = {"", *requirement.extras}
        if requirement.marker and not any(
            requirement.marker.evaluate({"extra": e}) for e in extras
        ):
            continue
        name = canonicalize_name(requirement.name)
        if name == "ogshot-client":  # built from client/, as ogshot is from the checkout
            continue
        if name in found and not requirement.extras:
            continue
        found[name] = metadata.version(requirement.name)
        for sub in metadata.requires(requirement.name) or []:
            inner = Requirement(sub)
            if not inner.marker or any(inner.marker.evaluate({"extra": e}) for e in extras):
                todo.append(inner)
    return found


def test_lock_pins_every_runtime_dependency_at_the_tested_version() -> None:
    """requirements.lock (what the images install offline) pins what the tests run."""
    from packaging.utils import canonicalize_name

    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = version.strip()
    installed = _runtime_closure()
    assert {n: pinned.get(n) for n in installed} == installed


@pytest.mark.server
def test_compose_keeps_the_web_on_its_published_port(tmp_path: Path) -> None:
    """A PORT in .env cannot move the web container off the port compose publishes."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    env = (ROOT / ".env.example").read_text().replace("PORT=8000", "PORT=9999")
    (tmp_path / ".env").write_text(env + "OGSHOT_PUBLISH_PORT=8123\n")
    done = subprocess.run(
        [require("docker-compose"), "-f", str(tmp_path / "docker-compose.yml"), "config"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    web = done.stdout.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]
    assert "PORT: '8000'" in web or 'PORT: "8000"' in web
    assert "published: 8123" in web or "8123:8000" in web
    assert "target: 8000" in web or "8123:8000" in web


def test_compose_images_are_pinned() -> None:
    """No image of the compose file floats (:latest or no tag)."""
    images = re.findall(r"^\s+image:\s*(\S+)", (ROOT / "docker-compose.yml").read_text(), re.M)
    assert images
    for image in images:
        assert ":" in image.rsplit("/", 1)[-1], image
        assert not image.endswith(":latest"), image


def test_build_context_leaves_out_secrets_and_the_virtualenv() -> None:
    """.dockerignore keeps a local .env, .venv and .git out of the images' build context."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def test_install_autoconsent_refuses_a_package_that_is_not_the_pinned_one(
    tmp_path: Path, pages: PageServer
) -> None:
    """A registry that answers with other bytes than npm recorded gets nothing installed."""
    name = "@duckduckgo/autoconsent/-/autoconsent-16.23.0.tgz"
    pages.files[name] = b"not the package"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "install-autoconsent"), str(tmp_path)],
        env={**os.environ, "npm_config_registry": pages.url("/files")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "does not match the pinned integrity" in done.stderr
    assert not (tmp_path / "share").exists()
    assert pages.count(f"/files/{name}") == 1
