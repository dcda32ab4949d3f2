"""The type each option has where a document, not a URL, gives it (the pre-warm API's JSON,
the sites file's TOML): there "800" is no width, true is no delay, and hide is a list."""

from __future__ import annotations

from ogshot_client.options import KEYED

# By the options' URL names (shared.keys.QUERY_NAMES).
OPTION_TYPES: dict[str, type] = {option.query: option.document_type for option in KEYED}
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
