"""Prometheus metrics of the web, through Flask's test client (one process here)."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

from prometheus_client.parser import text_string_to_metric_families

from shared.storage.memory import MemoryStorage
from tests.helpers import local_app
from tests.web.test_image_route import PAGE, store_image


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition (0 if absent)."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return float(item.value)
    return 0.0


def test_requests_fallbacks_and_queue_depth(redis_url: str) -> None:
    """Hits and fallbacks are counted by outcome and reason; queue depth comes from Redis."""
    storage = MemoryStorage()
    store_image(storage, PAGE)
    client = local_app(redis_url, storage, OGSHOT_MISS_WAIT="0").test_client()
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        client.get(f"/image/{quote_plus(PAGE)}.png")
    client.get(f"/image/{quote_plus(PAGE + '/new')}.png")
    response = client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    after = response.get_data(as_text=True)
    hits = "ogshot_image_requests_total"
    assert sample(after, hits, cache="hit") - sample(before, hits, cache="hit") == 3
    assert sample(after, hits, cache="fallback") - sample(before, hits, cache="fallback") == 1
    fallbacks = "ogshot_fallbacks_total"
    reason = {"reason": "render pending"}
    assert sample(after, fallbacks, **reason) - sample(before, fallbacks, **reason) == 1
    assert sample(after, "ogshot_queue_depth", queue="ogshot.miss") == 1
    assert re.search(r"^ogshot_miss_waits_total\{result=\"timeout\"\}", after, re.MULTILINE)
