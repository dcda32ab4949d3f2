"""Keep the processes of `ogshot serve` running: one that dies is started again, with a pause.

A broker blip once ended the Celery worker through a library bug, and `ogshot serve` then
stopped the web tier too. Now a dead child costs what it was doing, never the service.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

# Pauses before a restart double from FIRST_PAUSE up to MAX_PAUSE; a child that ran for
# STEADY seconds before it died starts again after FIRST_PAUSE.
FIRST_PAUSE = 1.0
MAX_PAUSE = 30.0
STEADY = 60.0


@dataclass
class Child:
    """One supervised process: how to start it, and its restart bookkeeping."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause: float = FIRST_PAUSE
    due: float = 0.0  # when a dead child is started again (monotonic)
    restarts: int = 0

    def start(self) -> None:
        """Start the process."""
        self.proc = subprocess.Popen(self.argv, env=self.env)
        self.started = time.monotonic()


def _say(message: str) -> None:
    print(f"ogshot: {message}", file=sys.stderr, flush=True)


def supervise(children: list[Child], stopping: Callable[[], bool], tick: float = 0.2) -> None:
    """Start ``children`` and restart any that exits, until ``stopping()``; then stop all."""
    for child in children:
        child.start()
    try:
        while not stopping():
            now = time.monotonic()
            for child in children:
                _check(child, now)
            time.sleep(tick)
    finally:
        stop_all(children)


def _check(child: Child, now: float) -> None:
    if child.proc is None:
        if now >= child.due:
            _say(f"starting the {child.name} again (restart {child.restarts})")
            child.start()
        return
    code = child.proc.poll()
    if code is None:
        return
    ran = now - child.started
    if ran >= STEADY:
        child.pause = FIRST_PAUSE
    _say(f"the {child.name} exited with status {code} after {ran:.0f} s; "
         f"starting it again in {child.pause:g} s")  # fmt: skip
    child.proc = None
    child.restarts += 1
    child.due = now + child.pause
    child.pause = min(child.pause * 2, MAX_PAUSE)


def stop_all(children: list[Child], timeout: float = 20) -> None:
    """Ask every running child to stop; kill those still running after ``timeout``."""
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
