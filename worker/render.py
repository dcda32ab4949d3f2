"""The render pipeline: policy, browser, imaging. No queue, no storage."""

from __future__ import annotations

import time

from shared.imaging import encode_screenshot
from shared.keys import RenderRequest
from shared.storage import ImageMeta
from shared.urlpolicy import Resolver, UrlPolicy, resolve_host
from worker.browser import WarmBrowser
from worker.contexts import SharedBrowser
from worker.egress import GuardPool
from worker.engines import PageOptions, RenderFailed, RenderRejected
from worker.quality import rejection


def render(
    request: RenderRequest,
    browser: WarmBrowser | SharedBrowser,
    policy: UrlPolicy,
    egress: GuardPool,
    resolve: Resolver = resolve_host,
    *,
    check_blank: bool = True,
) -> tuple[bytes, ImageMeta]:
    """Render ``request`` to encoded image bytes and their metadata.

    ``egress``: the guards the browser was started behind; the render fails when the page
    broke one of its limits. A page that is no preview raises RenderRejected
    (worker/quality.py; ``check_blank``: OGSHOT_QUALITY_GATE).
    """
    # Checked again here: the allow-list or DNS may have changed since the web queued it.
    policy.check(request.url, resolve)
    started = time.perf_counter()
    options = request.options
    size = (options.width, options.height, options.scale)
    page = PageOptions.of(options)
    # An element's image is the element's size; a viewport's is known in advance.
    pixel_size = None if options.selector else options.pixel_size
    with egress.take() as guard:  # this render's own guard: its counts are its own
        session = guard.new_session()
        with browser.rendering(request.url, *size, page, proxy_port=guard.port) as shot:
            # Encoded while the page's context is removed (renders at once): the guard goes
            # to another render once it is gone.
            data = encode_screenshot(shot.png, options.format, pixel_size)
    if session.exceeded:
        raise RenderFailed(f"{request.url}: {session.exceeded}")
    # An element capture is what the site chose to share: one colour may well be its design.
    reason = rejection(shot, check_blank and not options.selector)
    if reason:
        raise RenderRejected(request.url, reason, data)
    render_ms = round((time.perf_counter() - started) * 1000)
    meta = ImageMeta.describe(
        request,
        data,
        engine=browser.name,
        render_ms=render_ms,
        title=shot.title,
        readiness=shot.readiness,
        waited=shot.waited,
        clipped=shot.clipped,
    )
    return data, meta
