"""The image and render options on the command line, the same for render, sign and prewarm:
one flag per row of the helper's option table."""

from __future__ import annotations

import argparse
from typing import Any

from ogshot_client.options import BY_NAME, KEYED, Kind


def add_image_options(parser: argparse.ArgumentParser, format_help: str | None = None) -> None:
    """Add a flag for each keyed option (``--width``/``-W`` ... ``--dark``) to ``parser``."""
    for option in KEYED:
        flags = [option.short, option.flag] if option.short else [option.flag]
        dest: dict[str, Any] = {"dest": option.name, "default": None}
        if option.kind is Kind.SWITCH:
            parser.add_argument(*flags, action="store_true", help=option.help, **dest)
        elif option.kind is Kind.SELECTORS:
            parser.add_argument(*flags, action="append", metavar=option.metavar,
                                help=f"{option.help} (repeatable)", **dest)  # fmt: skip
        else:
            parser.add_argument(
                *flags,
                type=int if option.kind is Kind.INTEGER else str,
                metavar=option.metavar,
                help=format_help if option.kind is Kind.CHOICE and format_help else option.help,
                **dest,
            )


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyed options given on the command line, by their keywords."""
    given = {option.name: getattr(args, option.name) for option in KEYED}
    return {name: value for name, value in given.items() if value not in (None, False)}


def query_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyed options given on the command line, by their URL names (the pre-warm body's)."""
    return {BY_NAME[name].query: value for name, value in given_options(args).items()}
