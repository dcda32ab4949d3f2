"""The versions a render must record, in a real Redis, and how an image's versions merge."""

from __future__ import annotations

import redis

from shared.versions import KEEP_VERSIONS, VersionBook, merge_versions


def test_merge_keeps_each_version_once_newest_last_and_bounded() -> None:
    """Recorded versions come after the known ones; a repeat moves to the end; the oldest go."""
    assert merge_versions(["1", "2"], ["3"]) == ("1", "2", "3")
    assert merge_versions(["1", "2"], ["1"]) == ("2", "1")
    assert merge_versions([], ["a", "a"]) == ("a",)
    many = merge_versions([str(n) for n in range(KEEP_VERSIONS)], ["new"])
    assert len(many) == KEEP_VERSIONS
    assert many[-1] == "new"
    assert "0" not in many


def test_a_render_records_what_was_wanted_before_it_and_no_more(redis_url: str) -> None:
    """The snapshot is taken before the render; a version wanted during it stays wanted."""
    book = VersionBook(redis.Redis.from_url(redis_url, decode_responses=True))
    book.want("k", "1")
    book.want("k", "2")
    book.want("k", "1")  # asked again: keeps its first time
    taken = book.snapshot("k")
    assert taken == ["1", "2"]
    book.want("k", "3")  # while the page loads
    book.recorded("k", taken)
    assert book.snapshot("k") == ["3"]
    assert book.pending("k")
    book.recorded("k", ["3"])
    assert not book.pending("k")
    assert not book.pending("other")
