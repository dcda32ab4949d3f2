"""The type each option has where a document, not a URL, gives it (the pre-warm API's JSON,
the sites file's TOML): there "800" is no width, true is no delay, and hide is a list."""

from __future__ import annotations

# By the options' URL names (shared.keys.QUERY_NAMES).
OPTION_TYPES: dict[str, type] = {
    "w": int, "h": int, "scale": int, "delay": int, "format": str,
    "wait_for": str, "selector": str, "hide": list, "dark": bool,
}  # fmt: skip
_NAMES = {int: "integer", str: "string", list: "list", bool: "boolean"}
LIST_OF_STRINGS = "list of strings"


def wrong_type(value: object, kind: type) -> str:
    """ "" if ``value`` is a ``kind``, else what it must be: "integer", "string", "list",
    "boolean" or, for a list holding something else, LIST_OF_STRINGS."""
    # bool is an int in Python: true is no number.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        return _NAMES[kind]
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        return LIST_OF_STRINGS
    return ""
