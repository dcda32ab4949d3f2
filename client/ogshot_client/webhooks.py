"""Webhooks from the service: verify that a call came from it, and read what it says.

When a pre-warm job ends, the service POSTs the job's JSON to the batch's ``webhook_url``
with a header ``Ogshot-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is the
HMAC-SHA256, keyed with the server's OGSHOT_WEBHOOK_SECRET, of ``<t>.`` followed by the
body's bytes. The time is signed too, so a call recorded once cannot be replayed later:
``verify_webhook`` refuses a time further than ``tolerance`` seconds from now.

    event = verify_webhook(SECRET, request.headers.get(SIGNATURE_HEADER), request.get_data())
    if event["status"] == "done":
        confirmed[event["page_url"]] = event["version"]  # now write this version in pages
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

SIGNATURE_HEADER = "Ogshot-Signature"
DELIVERY_HEADER = "Ogshot-Delivery"  # the delivery's id: the same on every attempt of it
DEFAULT_TOLERANCE = 300  # seconds


class WebhookError(ValueError):
    """The call is not a webhook of the service's: no or a bad signature, an old time."""


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """Return the ``Ogshot-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(
    secret: str | Sequence[str],
    header: str | None,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a webhook's signature and time; return its JSON, or raise WebhookError.

    ``secret`` may be several (while the server's secret is being changed: old and new).
    ``body`` is the request's raw bytes, before any JSON parsing.
    """
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise WebhookError(f"no {SIGNATURE_HEADER} header with a t= time") from None
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > tolerance:
        raise WebhookError(f"the signed time is more than {tolerance:g} s from now: a replay?")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    given = [value.encode() for value in fields.get("v1", [])]
    valid = False
    for key in secrets:
        expected = sign_webhook(key, body, timestamp).rpartition("v1=")[2].encode()
        for signature in given:
            valid |= hmac.compare_digest(expected, signature)
    if not valid:
        raise WebhookError("the signature does not match the body")
    try:
        event: dict[str, Any] = json.loads(body)
    except ValueError:
        raise WebhookError("the body is not JSON") from None
    return event
