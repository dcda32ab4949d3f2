"""Queue a forced, debounced re-render: what the pre-warm API and the admin pages share."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from ogshot_client import ImageOptions, og_image_url, og_tags
from ogshot_client.options import KEYED

from shared.keys import RenderRequest
from shared.redisconn import QueueUnavailable
from web import Services


def _given(wanted: RenderRequest) -> dict[str, Any]:
    """The options of ``wanted`` that differ from the defaults (URLs leave the rest out),
    render options included."""
    given, default = wanted.options, ImageOptions()
    return {
        option.name: getattr(given, option.name)
        for option in KEYED
        if getattr(given, option.name) != getattr(default, option.name)
    }


def image_url(wanted: RenderRequest, version: str = "") -> str:
    """The absolute og:image URL of a request (with its version, if any), options at their
    defaults left out."""
    return og_image_url(request.host_url, wanted.url, version=version or None, **_given(wanted))


def image_tags(wanted: RenderRequest) -> str:
    """The meta tags a site puts in its page for this image, as the site helper writes them."""
    return str(og_tags(request.host_url, wanted.url, **_given(wanted)))


def prewarm_one(
    svc: Services,
    wanted: RenderRequest,
    version: str = "",
    webhook_url: str = "",
    page_url: str = "",
) -> dict[str, Any]:
    """Gather a forced render of ``wanted`` with other pre-warms of it; describe the job.

    The render records ``version`` (wanted before the job is scheduled, so the render,
    which starts later, takes it); the job calls ``webhook_url`` when it ends, telling it
    the version and the ``page_url`` as the site gave it.
    """
    key = wanted.cache_key()
    payload = {**wanted.to_payload(), "force": True, "prewarm": True}
    if version:
        svc.versions.want(key, version)
    hook = None
    if webhook_url:
        tell = {"version": version or None, "page_url": page_url or wanted.url,
                "image_url": image_url(wanted, version)}  # fmt: skip
        hook = {"url": webhook_url, "tell": tell}
    job_id, created = svc.jobs.schedule_prewarm(key, uuid.uuid4().hex, version=version, hook=hook)
    if created:
        svc.jobs.create(job_id, key, payload)
        try:
            svc.send(payload, job_id)
        except QueueUnavailable:
            svc.jobs.take_pending(key, job_id)  # never leave later pre-warms waiting on it
            raise
    record = svc.jobs.get(job_id) or {}
    return {
        "url": wanted.url,
        "key": key,
        "id": job_id,
        "status": record.get("status", "queued"),
        "version": version or None,
        "image_url": image_url(wanted, version),
    }
