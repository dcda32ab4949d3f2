"""Call the webhooks of ended pre-warm jobs, apart from the renders.

The sender runs in the Celery worker's main process, which renders nothing (its pool
processes do), in threads of its own: a site that is slow or down holds a sender thread
for at most OGSHOT_WEBHOOK_TIMEOUT, never a render slot. Deliveries come from their own
queue in Redis (shared/webhooks.py), so every worker host's sender shares them.

One attempt is one signed POST, with no redirect followed. A 2xx ends the delivery; a
connection error, a timeout, 429 or 5xx is tried again after a pause that doubles (1 s,
2 s, 4 s... at most MAX_PAUSE) while the next try falls within OGSHOT_WEBHOOK_HORIZON of
the job's end; any other answer (a 3xx, a 4xx) is final.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ogshot_client.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, sign_webhook

from shared.metrics import WEBHOOK_DELIVERIES
from shared.redisconn import QueueUnavailable
from shared.webhooks import WebhookDelivery, WebhookQueue

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
MAX_PAUSE = 600.0
SENDERS = 4  # attempts at once per worker host
IDLE_POLL = 0.5  # seconds between looks at the queue when nothing is due


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None  # the 3xx then comes back as an HTTPError: final


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[str, str]:
    """POST once; return the outcome ("delivered", "retry" or "failed") and what was met."""
    # url is http(s): the pre-warm API accepts nothing else (web/api.py).
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return "delivered", f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        code = exc.code
        if 300 <= code < 400:
            return "failed", f"HTTP {code}: redirects are not followed"
        return ("retry" if code == 429 or code >= 500 else "failed"), f"HTTP {code}"
    except TimeoutError:
        return "retry", f"no answer within {timeout:g} s"
    except http.client.HTTPException as exc:  # not HTTP at all (a bad status line...)
        return "retry", f"no HTTP answer: {type(exc).__name__}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return "retry", f"cannot connect: {reason}"


def pause_after(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return float(min(FIRST_PAUSE * 2 ** (attempts - 1), MAX_PAUSE))


class WebhookSender:
    """Claims due deliveries and makes their attempts, until stopped."""

    def __init__(self, queue: WebhookQueue, secret: str, timeout: float) -> None:
        self.queue, self.secret, self.timeout = queue, secret, timeout
        self._stop = threading.Event()
        self._free = threading.BoundedSemaphore(SENDERS)
        self._pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="ogshot-webhook")
        self._thread = threading.Thread(target=self._run, name="ogshot-webhooks", daemon=True)

    def start(self) -> WebhookSender:
        """Start claiming deliveries in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop claiming; attempts under way end by their timeout."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._free.acquire()
            try:
                claimed = self.queue.claim()
            except QueueUnavailable as exc:
                log.warning("webhook queue unavailable: %s", exc)
                claimed = None
            if claimed is None:
                self._free.release()
                self._stop.wait(IDLE_POLL)
                continue
            self._pool.submit(self._attempt, *claimed)

    def _attempt(self, delivery: WebhookDelivery, now: float) -> None:
        try:
            self.attempt(delivery, now)
        except Exception as exc:  # a sender thread must outlive any one delivery
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)
            # Ended, not left to come back after its lease for ever.
            with contextlib.suppress(QueueUnavailable):
                self.queue.attempted(delivery, "failed", f"ogshot error: {exc}", 0)
        finally:
            self._free.release()

    def attempt(self, delivery: WebhookDelivery, now: float) -> str:
        """Make one attempt of ``delivery`` (``now``: Redis's time); record and return how
        it went."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ogshot-webhook",
            SIGNATURE_HEADER: sign_webhook(self.secret, delivery.body, int(time.time())),
            DELIVERY_HEADER: delivery.id,
        }
        outcome, detail = post(delivery.url, delivery.body, headers, self.timeout)
        retry_in = 0.0
        if outcome == "retry":
            retry_in = pause_after(delivery.attempts + 1)
            if now + retry_in > delivery.created + self.queue.horizon:
                outcome, retry_in = "gave_up", 0.0
        status = {"delivered": "delivered", "retry": "retrying", "failed": "failed",
                  "gave_up": "given up"}[outcome]  # fmt: skip
        if outcome == "retry":
            detail += f"; next try in {retry_in:g} s"
        self.queue.attempted(delivery, status, detail, retry_in)
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        log.info("webhook %s job=%s url=%s: %s", status, delivery.job, delivery.url, detail)
        return outcome
