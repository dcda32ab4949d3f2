"""gunicorn settings module (``--config python:web.gunicorn_hooks``): metrics bookkeeping."""

from __future__ import annotations

from typing import Any

from shared.metrics import mark_process_dead, remove_own_directory


def child_exit(server: Any, worker: Any) -> None:
    """A gunicorn worker exited: its live metric files no longer count."""
    mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The web tier stops: the metrics directory `ogshot web` made for it goes."""
    remove_own_directory()
