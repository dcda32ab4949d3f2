"""CSS selectors from image URLs, checked by a real selector parser (cssselect2, on tinycss2)
before anything is queued: a malformed selector is a 400 naming the option, never a failed
render."""

from __future__ import annotations

import cssselect2
from ogshot_client.options import InvalidOptions


def check_selector(name: str, selector: str) -> None:
    """Raise InvalidOptions naming ``name`` unless ``selector`` is a valid selector list."""
    try:
        cssselect2.compile_selector_list(selector)
    except cssselect2.SelectorError as exc:
        why = exc.args[-1] if exc.args else "unreadable"
        raise InvalidOptions(f"{name} is not a valid CSS selector: {why}") from None
