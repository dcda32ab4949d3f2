"""The job contract's Celery settings: when an unacknowledged job comes back."""

from __future__ import annotations

from shared.config import load_config
from shared.jobs import RETRY_BACKOFF_MAX, celery_settings


def test_a_job_comes_back_only_after_its_worker_could_still_hold_it() -> None:
    """The visibility timeout exceeds the hard time limit plus the longest retry countdown,
    for short and long render timeouts, and the sweep that brings jobs back runs often."""
    for timeout in ("1", "15", "300"):
        config = load_config({"OGSHOT_ALLOWED_HOSTS": "example.com",
                              "OGSHOT_RENDER_TIMEOUT": timeout})  # fmt: skip
        options = celery_settings(config)["broker_transport_options"]
        assert options["visibility_timeout"] > config.hard_time_limit + RETRY_BACKOFF_MAX
        assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10
