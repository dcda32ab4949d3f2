"""Render a page and put the image where the web tier finds it, then tell who waits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from shared.imaging import thumbnail
from shared.keys import RenderRequest, thumbnail_key
from shared.storage import ImageMeta, Storage
from shared.versions import merge_versions
from worker.render import render
from worker.state import WorkerState


def is_fresh(storage: Storage, key: str, ttl: float) -> bool:
    """Tell whether ``key`` holds an image younger than ``ttl`` seconds."""
    try:
        return storage.head(key).age() < ttl
    except FileNotFoundError:
        return False


def _known(storage: Storage, key: str) -> tuple[str, ...]:
    """The versions the image stored under ``key`` shows (none if there is none)."""
    try:
        return storage.head(key).versions
    except FileNotFoundError:
        return ()


def render_and_store(
    current: WorkerState, request: RenderRequest, key: str, announce: Callable[[], None]
) -> ImageMeta:
    """Render, store the image, ``announce`` it, then store its thumbnail and index it.

    The versions wanted of the key before the page loads are the ones the image records
    (with those its predecessor knew): a version asked for during the render waits for the
    next one. Waiting requests hear of the image as soon as it is stored: the thumbnail
    (~20 ms) is for the admin pages and need not delay a crawler.
    """
    wanted = current.versions.snapshot(key)
    data, meta = render(
        request, current.browser, current.policy, current.egress, check_blank=current.quality_gate
    )
    meta = dataclasses.replace(meta, versions=merge_versions(_known(current.storage, key), wanted))
    current.storage.put(key, data, meta)
    current.versions.recorded(key, wanted)
    announce()
    current.jobs.forget_failure(key)
    small = thumbnail(data)
    current.storage.put(thumbnail_key(key), small, meta.for_thumbnail(small))
    current.index.add(key, meta)
    return meta
