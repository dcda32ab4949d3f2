"""gunicorn settings module (``--config python:web.gunicorn_hooks``): metrics bookkeeping."""

from __future__ import annotations

from typing import Any

from shared.metrics import mark_process_dead


def child_exit(server: Any, worker: Any) -> None:
    """A gunicorn worker exited: its live metric files no longer count."""
    mark_process_dead(worker.pid)
