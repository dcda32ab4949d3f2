"""Queue a forced, debounced re-render: what the pre-warm API and the admin pages share."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from ogshot_client import ImageOptions, og_image_url, og_tags

from shared.keys import RenderRequest
from shared.redisconn import QueueUnavailable
from web import Services


def _given(wanted: RenderRequest) -> dict[str, Any]:
    """The options of ``wanted`` that differ from the defaults (URLs leave the rest out),
    render options included."""
    default = ImageOptions()
    return {
        "width": wanted.width if wanted.width != default.width else None,
        "height": wanted.height if wanted.height != default.height else None,
        "scale": wanted.scale if wanted.scale != default.scale else None,
        "format": wanted.format,
        **wanted.options.render_options(),
    }


def image_url(wanted: RenderRequest) -> str:
    """The absolute og:image URL of a request, options at their defaults left out."""
    return og_image_url(request.host_url, wanted.url, **_given(wanted))


def image_tags(wanted: RenderRequest) -> str:
    """The meta tags a site puts in its page for this image, as the site helper writes them."""
    return str(og_tags(request.host_url, wanted.url, **_given(wanted)))


def prewarm_one(svc: Services, wanted: RenderRequest) -> dict[str, Any]:
    """Gather a forced render of ``wanted`` with other pre-warms of it; describe the job."""
    key = wanted.cache_key()
    payload = {**wanted.to_payload(), "force": True, "prewarm": True}
    job_id, created = svc.jobs.schedule_prewarm(key, uuid.uuid4().hex)
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
        "image_url": image_url(wanted),
    }
