"""The confirmed-version pattern: a page names a new image version only once it is rendered.

    ledger = VersionLedger()                       # or VersionLedger(a dict-like on your DB)

    def on_update(board):                          # the scores changed
        ledger.asked(board.url, board.revision)
        prewarm(OGSHOT, TOKEN, [board.url], version=board.revision, webhook_url=HOOK)

    def ogshot_hook(headers, body):                # the webhook's route
        ledger.confirm(verify_webhook(SECRET, headers.get(SIGNATURE_HEADER), body))

    og_tags(OGSHOT, board.url, version=ledger.current(board.url))   # in the template

Until the webhook confirms a version, pages keep naming the last confirmed one (or none),
so no crawler ever asks for a version before its image exists. A confirmation of anything
but the version asked last is ignored: a late webhook of an older update cannot bring an
older version back.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any


class VersionLedger:
    """Per page URL: the version asked for last, and the version confirmed rendered."""

    def __init__(self, store: MutableMapping[str, str] | None = None) -> None:
        # Anything dict-like: a dict in one process, or a mapping backed by the site's
        # database or cache when several processes serve its pages.
        self.store: MutableMapping[str, str] = {} if store is None else store

    def asked(self, page_url: str, version: str) -> None:
        """Record that ``page_url`` was pre-warmed with ``version`` (call before prewarm)."""
        self.store["asked:" + page_url] = version

    def confirm(self, event: Mapping[str, Any]) -> bool:
        """Take a verified webhook's job; return True if it confirmed the version asked
        last for its page (a failed job, or another version, confirms nothing)."""
        page, version = event.get("page_url"), event.get("version")
        if event.get("status") != "done" or not page or not version:
            return False
        if self.store.get("asked:" + page) != version:
            return False
        self.store["confirmed:" + page] = version
        return True

    def current(self, page_url: str) -> str | None:
        """The version a page may name now (None: none confirmed yet, name no version)."""
        return self.store.get("confirmed:" + page_url)
