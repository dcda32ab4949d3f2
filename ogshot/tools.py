"""The one-off commands: render a page to a file, sign a URL, rebuild the admin index."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from ogshot_client import InvalidOptions, og_image_url, og_tags

from ogshot.options import given_options
from shared.changes import make_storage
from shared.config import Config, load_client_config
from shared.index import ImageIndex
from shared.keys import RenderRequest
from shared.redisconn import QueueUnavailable, connect
from shared.storage import StorageUnavailable
from shared.urlpolicy import InvalidURL, RefusedURL, UrlPolicy


def cmd_render(config: Config, args: argparse.Namespace) -> int:
    """Render one page to a file without queue or storage."""
    # Imported here: the browser libraries load only for the command that renders.
    from worker.browser import WarmBrowser
    from worker.egress import GuardPool
    from worker.engines import BrowserError, RenderFailed, RenderRejected, make_engine
    from worker.render import render

    policy = UrlPolicy.from_config(config)
    output = Path(args.output)
    given = {"format": output.suffix.lstrip(".") or None, **given_options(args)}
    try:
        url = policy.normalize(args.url)
        request = RenderRequest.build(url, **{**policy.site_defaults(url), **given})
    except (InvalidURL, RefusedURL, InvalidOptions) as exc:
        print(f"ogshot: {exc}", file=sys.stderr)
        return 2
    engine = args.engine or config.browser
    egress = GuardPool(policy, config.max_page_bytes, config.max_page_requests)
    binary = config.browser_binary if engine == config.browser else None
    factory = functools.partial(
        make_engine,
        engine,
        config.render_timeout,
        egress.port,
        binary,
        ready_timeout=config.ready_timeout,
        hide_consent=config.hide_consent,
    )
    browser = WarmBrowser(engine, factory, 1)
    try:
        data, meta = render(request, browser, policy, egress, check_blank=config.quality_gate)
    except RenderRejected as exc:
        if exc.picture is None:  # an HTTP error: there is no picture to show
            print(f"ogshot: {exc}", file=sys.stderr)
            return 1
        # The picture is what a person looks at to see why: written all the same.
        _write(output, exc.picture)
        print(f"{output}: written, but the service would not store this: {exc.reason}",
              file=sys.stderr)  # fmt: skip
        return REJECTED
    except (RefusedURL, RenderFailed, BrowserError) as exc:
        print(f"ogshot: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, RefusedURL) else 1
    finally:
        browser.close()
        egress.close()
    _write(output, data)
    waited = f" (waited last for {meta.waited})" if meta.waited else ""
    print(f"{output}: {meta.width * meta.scale}x{meta.height * meta.scale} {meta.format}, "
          f"{meta.size} bytes, {meta.render_ms} ms with {meta.engine}; "
          f"page {meta.readiness}{waited}")  # fmt: skip
    return 0


# ogshot render's exit status for a picture the quality gate refused (1: a failed render,
# 2: a refused URL).
REJECTED = 3


def _write(output: Path, data: bytes) -> None:
    """Write ``data`` to ``output`` through a temporary name, so it is whole or absent."""
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(output)


def cmd_reindex(config: Config, args: argparse.Namespace) -> int:
    """Rebuild the admin pages' Redis index from storage."""
    try:
        count = ImageIndex(connect(config.redis_url)).rebuild(make_storage(config))
    except (QueueUnavailable, StorageUnavailable) as exc:
        print(f"ogshot: reindex failed: {exc}", file=sys.stderr)
        return 1
    print(f"indexed {count} images")
    return 0


def cmd_sign(config: Config, args: argparse.Namespace) -> int:
    """Print the signed og:image URL of a page, or with ``--tags`` its meta tags."""
    if not config.signing_keys:
        print("ogshot: no OGSHOT_SIGNING_KEYS to sign with", file=sys.stderr)
        return 2
    base = args.base or load_client_config().server
    write = og_tags if args.tags else og_image_url
    try:
        print(write(base, args.url, signing_key=config.signing_keys[0], version=args.version,
                    **given_options(args)))  # fmt: skip
    except InvalidOptions as exc:
        print(f"ogshot: {exc}", file=sys.stderr)
        return 2
    return 0
