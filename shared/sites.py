"""Per-site render defaults (OGSHOT_SITES_FILE) and the tracking parameters dropped from page
URLs (OGSHOT_IGNORE_PARAMS), so a site sets its options once and each page has one image,
not one per shared link.

The sites file is TOML, read once at start-up:

    [sites."example.com"]
    wait_for = "#board tr"
    hide = [".chat", ".promo"]

    [sites."*.example.org"]
    dark = true
    ignore_params = ["utm_*", "ref"]

The first table whose host pattern (OGSHOT_ALLOWED_HOSTS's syntax) matches a page's host
applies to it. Options in the image URL win over the file's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from ogshot_client.options import RENDERING

from shared.optiontypes import LIST_OF_STRINGS, OPTION_TYPES, wrong_type

# Dropped from every page URL before it is keyed and rendered: what ad platforms, mail tools
# and social networks append to shared links (docs/pages.md).
DEFAULT_IGNORE_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
    "igshid", "twclid", "ttclid", "li_fat_id", "yclid", "_ga", "_gl", "_hsenc", "_hsmi",
    "mkt_tok",
)  # fmt: skip
# The render options a site may default (the image URL's names).
SITE_OPTIONS = tuple(option.query for option in RENDERING)  # how to render, not what to make
_TYPES = {**{name: OPTION_TYPES[name] for name in SITE_OPTIONS}, "ignore_params": list}
_PARAM_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.[]")


def host_matches(pattern: str, host: str) -> bool:
    """Tell whether a normalized ``host`` matches a host pattern: ``*``, ``*.domain`` (its
    subdomains, not itself) or a host."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def check_params(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate query parameter names, each optionally ending in ``*`` (a prefix)."""
    for name in names:
        stem = name[:-1] if name.endswith("*") else name
        if not stem or not set(stem) <= _PARAM_CHARACTERS:
            raise ValueError(
                f"{name!r} is not a parameter name (letters, digits, _-.[] and a final *)"
            )
    return tuple(names)


def parse_params(raw: str) -> tuple[str, ...]:
    """OGSHOT_IGNORE_PARAMS: comma-separated names, or ``none``."""
    if raw.strip().lower() == "none":
        return ()
    return check_params([name.strip() for name in raw.split(",") if name.strip()])


def _ignored(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def drop_params(query: str, patterns: tuple[str, ...]) -> str:
    """Return ``query`` without the parameters ``patterns`` name, the rest in their order."""
    if not patterns or not query:
        return query
    parts = query.split("&")
    kept = [p for p in parts if not _ignored(unquote_plus(p.split("=", 1)[0]), patterns)]
    return query if len(kept) == len(parts) else "&".join(kept)


@dataclass(frozen=True)
class Site:
    """One table of the sites file."""

    pattern: str
    # The render options it sets, by their URL names (hide as a tuple).
    options: tuple[tuple[str, Any], ...] = ()
    ignore_params: tuple[str, ...] | None = None  # None: OGSHOT_IGNORE_PARAMS

    def defaults(self) -> dict[str, Any]:
        """The options as RenderRequest.build's keywords."""
        return {name: list(value) if name == "hide" else value for name, value in self.options}


def read_sites(
    path: Path,
    normalize_pattern: Callable[[str], str],
    check_options: Callable[[Mapping[str, Any]], None],
) -> tuple[Site, ...]:
    """Read and validate a sites file; raise ValueError saying what is wrong and where.

    ``normalize_pattern`` checks a host pattern as OGSHOT_ALLOWED_HOSTS does; ``check_options``
    validates the options as an image URL's are.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path} cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"sites"})
    if unknown:
        raise ValueError(f'{path}: unknown table(s) {", ".join(unknown)}; use [sites."host"]')
    tables = data.get("sites", {})
    if not isinstance(tables, dict):
        raise ValueError(f'{path}: sites must be tables, as [sites."example.com"]')
    return tuple(_site(path, pattern, table, normalize_pattern, check_options)
                 for pattern, table in tables.items())  # fmt: skip


def _site(
    path: Path,
    pattern: str,
    table: object,
    normalize_pattern: Callable[[str], str],
    check_options: Callable[[Mapping[str, Any]], None],
) -> Site:
    where = f'{path} [sites."{pattern}"]'
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table of options")
    unknown = sorted(set(table) - {*SITE_OPTIONS, "ignore_params"})
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {', '.join(unknown)}")
    for name, value in table.items():
        if expected := wrong_type(value, _TYPES[name]):
            problem = (
                "has the wrong type" if expected != LIST_OF_STRINGS else f"must be a {expected}"
            )
            raise ValueError(f"{where}: {name} {problem}")
    try:
        normalized = normalize_pattern(pattern)
        options = {k: v for k, v in table.items() if k in SITE_OPTIONS}
        check_options(options)
        ignore = check_params(table["ignore_params"]) if "ignore_params" in table else None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    pairs = tuple((k, tuple(v) if k == "hide" else v) for k, v in sorted(options.items()))
    return Site(normalized, pairs, ignore)


def site_for(sites: tuple[Site, ...], host: str) -> Site | None:
    """The first site whose pattern matches ``host``, if any."""
    for site in sites:
        if host_matches(site.pattern, host):
            return site
    return None
