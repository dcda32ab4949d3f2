"""The scripts ogshot runs in pages (worker/engines/js/, package data), read once.

They hold the logic of readiness, the quality gate's look at the page and the bot-check
markers, so that an engine (or a later browser protocol) only says how to run them: each
engine injects ``activity.js`` before the page's own scripts (Chromium: a DevTools
new-document script; Firefox: a temporary extension's content script in the page's world;
renders at once: one WebDriver BiDi preload script for every context)
and runs the others as it runs any script.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def page_script(name: str) -> str:
    """The text of ``js/<name>``."""
    return (files(__package__) / "js" / name).read_text(encoding="utf-8")
