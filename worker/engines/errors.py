"""The errors every engine translates its own into."""

from __future__ import annotations


class RenderFailed(Exception):  # noqa: N818 - reads as the outcome
    """The page could not be rendered (network error, HTTP error status): not retried."""


class RenderRejected(RenderFailed):
    """The page loaded but is no preview (an HTTP error, a blank page, a bot check).

    ``reason`` is short and of few values ("HTTP 503", "blank page", "loading placeholder",
    "bot challenge (cloudflare)"): the job's error, the metrics' label, the admin's note.
    ``picture`` is the encoded image the quality gate refused (None for an HTTP error),
    which ``ogshot render`` still writes for a person to look at.
    """

    def __init__(self, url: str, reason: str, picture: bytes | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.reason = reason
        self.picture = picture


class RenderTimeout(RenderFailed):
    """The page did not finish loading within OGSHOT_RENDER_TIMEOUT."""


class BrowserError(Exception):
    """The browser itself failed (crashed, hung, lost its session): restart it and retry."""
