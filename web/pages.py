"""Small pages: the index, the readiness and liveness probes and the Prometheus metrics."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, jsonify, render_template
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.jobs import QUEUES
from shared.metrics import exposition
from shared.redisconn import QueueUnavailable
from web import Services, services

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """Explain how to use the service."""
    return render_template("index.html")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Report each dependency by name as ok or failing: 200 if all are ok, else 503."""
    svc = services()
    checks: dict[str, Callable[[], object]] = {
        "redis": svc.flight.client.ping,
        "storage": svc.storage.check,
        "workers": lambda: _some_worker(svc.jobs.workers()),
    }
    ok: list[str] = []
    failing: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency is reported
            failing[name] = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        else:
            ok.append(name)
    return jsonify({"ok": ok, "failing": failing}), 503 if failing else 200


def _some_worker(workers: list[dict[str, str]]) -> None:
    if not workers:
        raise RuntimeError("no worker heard from in the last 30 seconds")


class _QueueDepth(Collector):
    """Jobs waiting per queue, read from Redis when Prometheus scrapes."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("ogshot_queue_depth", "Render jobs waiting.", labels=["queue"])
        with contextlib.suppress(QueueUnavailable):
            for queue, length in self.svc.jobs.queue_lengths(QUEUES).items():
                gauge.add_metric([queue], length)
        yield gauge


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics of every process of this web, plus the queue depths."""
    extra = CollectorRegistry(auto_describe=False)
    extra.register(_QueueDepth(services()))
    return Response(exposition(extra), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while this web process is up."""
    return Response("ok\n", mimetype="text/plain")
