"""What ogshot has already written must read the same after any refactoring: the cache key,
the signature, the job payload JSON and the stored metadata JSON of image URLs with each
option alone, several together, ``hide`` in two orders, and none.

The values in pins.json were computed by the code of 2026-12-02 (after versioned URLs, before
the options are declared once, issue 26). A change that moves any of them strands stored
images, breaks signed URLs already in pages, or leaves queued jobs unreadable during a
rolling deploy.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from ogshot_client.signing import sign

from shared.keys import RenderRequest
from shared.storage import ImageMeta

PAGE = "https://example.com/board/42"
PINS: dict[str, dict[str, str]] = json.loads((Path(__file__).parent / "pins.json").read_text())
CASES: dict[str, dict[str, Any]] = {
    "none": {},
    "w": {"width": 800},
    "h": {"height": 400},
    "scale": {"scale": 2},
    "format": {"format": "jpg"},
    "wait_for": {"wait_for": "#board tr"},
    "delay": {"delay": 250},
    "hide": {"hide": [".chat,.promo"]},
    "selector": {"selector": "#card"},
    "dark": {"dark": True},
    "several": {
        "width": 600,
        "format": "webp",
        "wait_for": "#x",
        "hide": [".a", ".b"],
        "dark": True,
        "delay": 100,
    },
    "hide_ab": {"hide": [".a", ".b"]},
    "hide_ba": {"hide": [".b", ".a"]},
}


def test_every_case_is_pinned() -> None:
    """The pins and the cases name the same URLs."""
    assert set(PINS) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_key_signature_payload_and_metadata_are_as_written(name: str) -> None:
    """Each of the four is byte for byte what the pinned code wrote."""
    request = RenderRequest.build(PAGE, **CASES[name])
    pin = PINS[name]
    assert request.cache_key() == pin["key"]
    assert sign("pin-key", PAGE, request) == pin["signature"]
    payload = json.dumps(request.to_payload(), sort_keys=True, separators=(",", ":"))
    assert payload == pin["payload"]
    meta = ImageMeta.describe(request, b"image bytes", engine="firefox", render_ms=321,
                              title="Board", readiness="ready")  # fmt: skip
    assert dataclasses.replace(meta, rendered_at=1764633600.0).to_json() == pin["meta"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_what_was_written_is_read_back_the_same(name: str) -> None:
    """A queued job's payload and a stored image's metadata, as written, are read into the
    same request and metadata (a job queued by an older web, rendered by a newer worker)."""
    request = RenderRequest.build(PAGE, **CASES[name])
    from_job = RenderRequest.from_payload(json.loads(PINS[name]["payload"]))
    assert from_job == request
    assert from_job.cache_key() == PINS[name]["key"]
    assert ImageMeta.from_json(PINS[name]["meta"]).to_json() == PINS[name]["meta"]


def test_hide_order_is_part_of_the_key() -> None:
    """Two orders of the same hide values are two images (as written so far)."""
    assert PINS["hide_ab"]["key"] != PINS["hide_ba"]["key"]
