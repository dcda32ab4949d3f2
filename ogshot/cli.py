"""The ``ogshot`` command: serve (development), web and worker (production), render, prewarm,
sign, reindex and health. The commands themselves are in ogshot/services.py (the service's
processes), ogshot/tools.py (one-off commands) and ogshot/prewarm.py."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ogshot.options import add_image_options
from ogshot.prewarm import cmd_prewarm
from ogshot.services import cmd_health, cmd_serve, cmd_web, cmd_worker
from ogshot.tools import cmd_reindex, cmd_render, cmd_sign
from shared.config import ConfigError, load_config
from shared.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="ogshot", description="Social preview images.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_service_commands(sub)
    _add_tool_commands(sub)
    return parser


def _add_service_commands(sub: Any) -> None:

    serve = sub.add_parser("serve", help="web and worker together (development)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: PORT or 8000")
    serve.add_argument("--concurrency", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    web = sub.add_parser("web", help="the web tier under gunicorn (production)")
    web.add_argument("--bind", default=None, help="default: 0.0.0.0:$PORT")
    web.add_argument("--workers", type=int, default=None, help="default: WEB_CONCURRENCY or 1")
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="a render worker (production)")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)


def _add_tool_commands(sub: Any) -> None:
    render = sub.add_parser(
        "render",
        help="render one page to a file, without the queue",
        description="Render one page to a file, without queue or storage. Exit status: 0 the "
        "picture is written; 1 the render failed (the page could not be loaded, an HTTP "
        "error, a browser failure: no picture); 2 the URL or an option was refused; 3 the "
        "picture is written but the service would not store it (blank page, loading "
        "placeholder, bot challenge: the quality gate), which it says.",
    )
    render.add_argument("url")
    render.add_argument("-o", "--output", required=True)
    render.add_argument("--engine", choices=("firefox", "chromium"), default=None)
    add_image_options(render, format_help="the image's format; default: the output's extension")
    render.set_defaults(func=cmd_render)

    sign = sub.add_parser("sign", help="print the signed og:image URL of a page")
    sign.add_argument("url")
    sign.add_argument("--base", default=None, help="the service's URL; default: OGSHOT_SERVER")
    sign.add_argument("--tags", action="store_true",
                      help="print the page's meta tags (og:image with its size and type, the "
                           "Twitter card), not just the URL")  # fmt: skip
    sign.add_argument("--version", default=None, metavar="V",
                      help="the image's version (v=): an updated-at time, a revision")  # fmt: skip
    add_image_options(sign)
    sign.set_defaults(func=cmd_sign)

    health = sub.add_parser("health", help="exit 0 if this host's web or worker is healthy")
    health.add_argument("tier", choices=("web", "worker"))
    health.set_defaults(func=cmd_health)

    reindex = sub.add_parser("reindex", help="rebuild the admin index from storage")
    reindex.set_defaults(func=cmd_reindex)

    prewarm = sub.add_parser("prewarm", help="ask a running service to render pages again")
    prewarm.add_argument("urls", nargs="*", help="page URLs")
    prewarm.add_argument("--file", help="a file with one URL per line")
    prewarm.add_argument("--sitemap", help="a sitemap or sitemap index: URL or path, gzip or not")
    prewarm.add_argument("--server", default=None, help="default: OGSHOT_SERVER")
    prewarm.add_argument("--token", default=None, help="default: OGSHOT_API_TOKEN")
    prewarm.add_argument("--wait", action="store_true", help="follow the jobs until they end")
    prewarm.add_argument("--timeout", type=float, default=600, help="seconds --wait may take")
    prewarm.add_argument("--batch-size", type=int, default=100, choices=range(1, 1001),
                         metavar="1-1000")  # fmt: skip
    prewarm.add_argument("--version", default=None, metavar="V",
                         help="the new version (v=) the images' URLs will carry: the renders "
                              "record it")  # fmt: skip
    prewarm.add_argument("--webhook", default=None, metavar="URL",
                         help="POST each job here when it ends (a host in the server's "
                              "OGSHOT_WEBHOOK_HOSTS)")  # fmt: skip
    add_image_options(prewarm)
    prewarm.set_defaults(func=cmd_prewarm, client=True)


def main(argv: list[str] | None = None) -> int:
    """Run the ``ogshot`` command."""
    args = build_parser().parse_args(argv)
    if getattr(args, "client", False):
        # A client of a running service: it needs none of the server's settings.
        result_code: int = args.func(args)
        return result_code
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"ogshot: {exc}", file=sys.stderr)
        return 2
    setup_logging(config)
    result: int = args.func(config, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
