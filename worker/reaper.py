"""Orphaned browsers: a worker process killed with SIGKILL cannot stop its browser.

Each worker process marks the browsers it starts with its pid (an environment variable they
inherit); a new worker process, and every browser restart, kills marked browsers whose worker
process is gone. Linux only (it reads /proc), like the rest of the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)
OWNER_ENV = "OGSHOT_BROWSER_OWNER"


def mark_owner() -> None:
    """Make browsers started from now on carry this process's pid."""
    # Written, not read as a setting: the browsers inherit it, and the reaper reads it back
    # from /proc/<pid>/environ to find the browsers this process started.
    os.environ[OWNER_ENV] = str(os.getpid())


def _owner_of(pid: str) -> int | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{OWNER_ENV}=".encode()
    for item in environ.split(b"\0"):
        if item.startswith(prefix) and item[len(prefix) :].isdigit():
            return int(item[len(prefix) :])
    return None


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose (it will never stop its browser).
    with contextlib.suppress(OSError):
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    return True


def browser_processes(owner: int | None = None) -> list[int]:
    """Pids of marked browser processes (of ``owner`` only, if given)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            marked = _owner_of(entry.name)
            if marked is not None and int(entry.name) != marked and owner in (None, marked):
                found.append(int(entry.name))
    return found


def reap_orphans() -> int:
    """Kill marked browser processes whose worker process is gone; return how many."""
    killed = 0
    for pid in browser_processes():
        owner = _owner_of(str(pid))
        if owner is not None and not alive(owner):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    if killed:
        log.warning("killed %d browser processes left by a dead worker process", killed)
    return killed
