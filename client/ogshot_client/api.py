"""The service's JSON API as a site calls it: pre-warm pages after their content changed.

Standard library only. A call that meets a passing failure (no connection, a timeout, 429,
502, 503 or 504) is tried again after a pause that doubles each time, or after the pause a
Retry-After header asks for; any other answer is final. Pre-warming twice is harmless: the
service gathers pre-warms of one image into one render.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


class ApiError(RuntimeError):
    """The service refused the call, or could not be reached after every try."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status


class _Passing(Exception):  # noqa: N818 - internal: a failure worth another try
    def __init__(self, final: ApiError, retry_after: float | None) -> None:
        super().__init__(str(final))
        self.final, self.retry_after = final, retry_after


class ApiClient:
    """Talks to the service's JSON API with a bearer token, a timeout per call and retries."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = 60,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise ApiError(0, f"server must be an http(s) URL, not {server!r}")
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep

    def prewarm(
        self,
        urls: Sequence[str],
        options: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        webhook_url: str | None = None,
    ) -> dict[str, Any]:
        """POST one batch (at most 1000 URLs) to /api/prewarm; return its jobs and refusals.

        ``version`` is the images' new ``v=``, ``webhook_url`` where the service POSTs each
        job when it ends (``verify_webhook``).
        """
        body: dict[str, Any] = {"urls": list(urls), **(options or {})}
        if version is not None:
            body["v"] = version
        if webhook_url is not None:
            body["webhook_url"] = webhook_url
        result: dict[str, Any] = self._call("POST", "/api/prewarm", body)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        """GET /api/jobs/<id>: a job's status."""
        result: dict[str, Any] = self._call("GET", f"/api/jobs/{job_id}")
        return result

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        tries, pause = 0, self.backoff
        while True:
            try:
                return self._once(method, path, body)
            except _Passing as exc:
                tries += 1
                if tries > self.retries:
                    raise exc.final from None
                self._sleep(pause if exc.retry_after is None else exc.retry_after)
                pause *= 2

    def _once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        # self.server is http(s), checked in __init__.
        request = urllib.request.Request(self.server + path, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "ogshot-client")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            error = ApiError(exc.code, _reason(exc))
            if exc.code in RETRY_STATUSES:
                raise _Passing(error, _retry_after(exc.headers.get("Retry-After"))) from None
            raise error from None
        except (urllib.error.URLError, OSError) as exc:
            raise _Passing(ApiError(0, f"cannot reach {self.server}: {exc}"), None) from None


def prewarm(
    server: str,
    token: str,
    urls: Sequence[str],
    *,
    version: str | None = None,
    webhook_url: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Ask the service at ``server`` to render ``urls`` again (after their content changed).

    ``options`` are the image options of the URLs to refresh (``w``, ``h``, ``scale``,
    ``format``), left out for the defaults. ``version`` is the new ``v=`` their image URLs
    will carry: the render records it, and a crawler asking for it afterwards gets a hit.
    ``webhook_url`` (a host in the server's OGSHOT_WEBHOOK_HOSTS) is called when each job
    ends. Returns the service's answer: its ``jobs`` and the URLs it ``rejected`` with a
    reason each.
    """
    return ApiClient(server, token).prewarm(urls, options, version=version, webhook_url=webhook_url)


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(exc.read())
    except ValueError:
        return str(exc.reason)
    return str(answer.get("error", exc.reason)) if isinstance(answer, dict) else str(exc.reason)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds form only), capped."""
    try:
        return min(max(float(value or ""), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None
