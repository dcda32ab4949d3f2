"""A worker leaves the machine as it found it: /dev/null a device, the checkout untouched.

marionette_driver deletes the log file it is given before writing it; given os.devnull it
replaced /dev/null with a regular file when run as root (apt and much else then fail), and as
any other user Firefox could not start at all. These tests run the real worker and command
with HOME, TMPDIR and the working directory set to fresh temporary directories, and check
what is left behind. They never leave the machine broken, red or green: a /dev/null that
is no longer a device is put back before the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import (
    PageServer,
    free_port,
    image,
    ogshot_env,
    require,
    serving,
    start,
    stop_process,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
ENGINES = {"firefox": "firefox-esr", "chromium": "chromedriver"}


def _dev_null_is_a_device() -> bool:
    return stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.fixture
def dev_null() -> Iterator[None]:
    """Fail the test if /dev/null stops being a device, and put the device back first."""
    assert _dev_null_is_a_device(), "/dev/null was already broken before this test"
    yield
    if not _dev_null_is_a_device():
        spare = "/dev/null.ogshot-test"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spare)
        os.mknod(spare, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(spare, 0o666)  # noqa: S103 - what /dev/null is; mknod honours the umask
        os.replace(spare, "/dev/null")
        pytest.fail("/dev/null was replaced by a regular file (restored)")


def _checkout_status() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--ignored", "--untracked-files=all"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # Python's bytecode caches come from the test run itself, not from the worker.
    return "\n".join(line for line in done.stdout.splitlines() if "__pycache__" not in line)


@pytest.fixture
def private_dirs() -> Iterator[dict[str, str]]:
    """Fresh HOME, TMPDIR and working directory for a process under test.

    Short paths, not pytest's: Chromium's socket path under TMPDIR must fit 107 bytes.
    """
    top = Path(tempfile.mkdtemp(prefix="og-"))
    dirs = {name: top / name for name in ("home", "tmp", "cwd")}
    for path in dirs.values():
        path.mkdir()
    yield {"HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]), "cwd": str(dirs["cwd"])}
    shutil.rmtree(top, ignore_errors=True)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _leftovers(tmp: Path) -> list[str]:
    """Browser profiles, logs and metrics directories left in a temporary directory."""
    return sorted(p.name for p in tmp.iterdir())


@pytest.mark.usefixtures("dev_null")
@pytest.mark.parametrize("engine", ["firefox", "chromium"])
def test_worker_renders_restarts_and_stops_without_touching_the_machine(
    engine: str, pages: PageServer, redis_base: str, private_dirs: dict[str, str], tmp_path: Path
) -> None:
    """Renders, a browser restart after each, and a shutdown leave /dev/null and the checkout."""
    require(ENGINES[engine])
    before = _checkout_status()
    shared_tmp = set(os.listdir(tempfile.gettempdir()))
    web_port = free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/13",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER=engine,
        OGSHOT_BROWSER_MAX_RENDERS="1",  # every render is followed by a browser restart
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_MISS_WAIT="30",
        HOME=private_dirs["HOME"],
        TMPDIR=private_dirs["TMPDIR"],
    )
    cwd = private_dirs["cwd"]
    worker = start(["ogshot", "worker"], env, tmp_path / "worker.log", cwd=cwd)
    try:
        argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
        with serving(argv, web_port, env, tmp_path / "web.log"):
            web = f"http://127.0.0.1:{web_port}"
            for name in ("one", "two"):
                response = image(web, pages.url(f"/page/hy-{engine}-{name}"))
                assert response.headers["X-Ogshot-Cache"] == "miss", _tail(tmp_path / "worker.log")
        os.killpg(worker.pid, signal.SIGTERM)  # a graceful stop, as an orchestrator does
        assert worker.wait(timeout=60) == 0
    finally:
        stop_process(worker)
    assert "restarting" in (tmp_path / "worker.log").read_text()
    assert _dev_null_is_a_device()
    assert _checkout_status() == before
    assert os.listdir(cwd) == []
    assert _leftovers(Path(private_dirs["TMPDIR"])) == []
    # HOME holds the browsers' per-user caches (~/.cache/mozilla...): their business, and
    # in the image the worker user's own home. gunicorn's control socket is not written.
    assert not (Path(private_dirs["HOME"]) / ".gunicorn").exists()
    made = set(os.listdir(tempfile.gettempdir())) - shared_tmp
    assert made <= {Path(private_dirs["HOME"]).parent.name}


@pytest.mark.usefixtures("dev_null")
def test_render_command_as_root_leaves_dev_null(
    pages: PageServer, private_dirs: dict[str, str], tmp_path: Path
) -> None:
    """`ogshot render` with Firefox (the report's reproduction) keeps /dev/null a device."""
    require("firefox-esr")
    before = _checkout_status()
    env = ogshot_env(HOME=private_dirs["HOME"], TMPDIR=private_dirs["TMPDIR"])
    output = tmp_path / "card.png"
    done = subprocess.run(
        ["ogshot", "render", pages.url("/page/hy-render"), "-o", str(output)],
        env=env, cwd=private_dirs["cwd"], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert output.stat().st_size > 0
    assert _dev_null_is_a_device()
    assert _checkout_status() == before
    assert _leftovers(Path(private_dirs["TMPDIR"])) == []


def _as_user(uid: int, argv: list[str]) -> list[str]:
    """``argv`` run as ``uid`` with no groups, able to read (never write) what it does not own.

    The read right (CAP_DAC_READ_SEARCH) lets it run this test run's interpreter, which may
    live in a directory private to root (pyenv under /root); writing /dev or the checkout
    stays as forbidden as for any unprivileged user.
    """
    return [require("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *argv]  # fmt: skip


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A temporary directory any user may write (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ogshot-nobody-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.usefixtures("dev_null")
def test_firefox_worker_renders_as_an_unprivileged_user(
    pages: PageServer, redis_base: str, world_dir: Path
) -> None:
    """A Firefox worker run as `nobody` (as in the image, not root) renders real images."""
    require("firefox-esr")
    if os.geteuid() != 0:
        message = "switching to another user needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the check must run)")
        pytest.skip(message)
    nobody = 65534
    for name in ("home", "tmp", "images"):
        (world_dir / name).mkdir(mode=0o777)
        (world_dir / name).chmod(0o777)
    web_port = free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/14",
        OGSHOT_STORAGE_URL=str(world_dir / "images"),
        OGSHOT_BROWSER="firefox",
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_MISS_WAIT="30",
        HOME=str(world_dir / "home"),
        TMPDIR=str(world_dir / "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    log = world_dir / "worker.log"
    argv = _as_user(nobody, [require("ogshot"), "worker"])
    worker = start(argv, env, log, cwd=str(world_dir / "home"))
    try:
        argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
        with serving(argv, web_port, env, world_dir / "web.log"):
            response = image(f"http://127.0.0.1:{web_port}", pages.url("/page/hy-nobody?bg=00ff00"))
            assert response.headers["X-Ogshot-Cache"] == "miss", _tail(log)
            assert response.headers["Content-Type"] == "image/png"
            health = subprocess.run(["ogshot", "health", "worker"], env=env, check=False,
                                    capture_output=True, text=True, timeout=30)  # fmt: skip
            assert health.returncode == 0, health.stderr
            owners = {p.stat().st_uid for p in (world_dir / "images").rglob("*.png")}
            assert owners == {nobody}
    finally:
        stop_process(worker)
    assert _dev_null_is_a_device()
    assert requests.get(pages.url("/page/hy-nobody"), timeout=10).status_code == 200
