"""The quality gate: a render that is no preview is rejected before it is stored, so it never
replaces a good image (the HTTP status is checked by the engines as the page loads)."""

from __future__ import annotations

from shared.imaging import BLANK_SHARE, blank_share
from worker.engines import Shot


def rejection(shot: Shot, check_blank: bool) -> str:
    """Why ``shot`` must not be stored ("bot challenge (cloudflare)", "blank page"), or ""."""
    if shot.challenge:
        return f"bot challenge ({shot.challenge})"
    if check_blank and blank_share(shot.png) >= BLANK_SHARE:
        return "blank page"
    return ""
