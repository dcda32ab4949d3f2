"""CSS selectors from image URLs, checked by a real selector parser (cssselect2, on tinycss2)
before anything is queued: a malformed selector is a 400 naming the option, never a failed
render."""

from __future__ import annotations

import functools

import cssselect2
from ogshot_client.options import InvalidOptions


# Parsing costs ~0.1 ms; a site's image URLs repeat a few selectors on every hit.
@functools.lru_cache(maxsize=1024)
def check_selector(name: str, selector: str) -> None:
    """Raise InvalidOptions naming ``name`` unless ``selector`` is a valid selector list."""
    try:
        cssselect2.compile_selector_list(selector)
    except cssselect2.SelectorError as exc:
        why = exc.args[-1] if exc.args else "unreadable"
        raise InvalidOptions(f"{name} is not a valid CSS selector: {why}") from None
