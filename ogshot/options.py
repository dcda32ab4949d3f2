"""The render options on the command line, the same for render, sign and prewarm."""

from __future__ import annotations

import argparse
from typing import Any


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """Add --wait-for, --delay, --hide (repeatable), --selector and --dark to ``parser``."""
    parser.add_argument("--wait-for", default=None, metavar="SELECTOR",
                        help="render once an element matching it is shown")  # fmt: skip
    parser.add_argument("--delay", type=int, default=None, metavar="MS",
                        help="milliseconds to wait once the page is ready (0-10000)")  # fmt: skip
    parser.add_argument("--hide", action="append", default=None, metavar="SELECTOR",
                        help="hide these elements (a selector list; repeatable)")  # fmt: skip
    parser.add_argument("--selector", default=None,
                        help="capture this element instead of the viewport")  # fmt: skip
    parser.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")


def render_options(args: argparse.Namespace) -> dict[str, Any]:
    """The render options given on the command line, by their URL names."""
    given = {"wait_for": args.wait_for, "delay": args.delay, "hide": args.hide,
             "selector": args.selector, "dark": args.dark or None}  # fmt: skip
    return {name: value for name, value in given.items() if value is not None}
