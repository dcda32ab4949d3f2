"""Tracking parameters and host patterns of the sites file."""

from __future__ import annotations

import pytest

from shared.sites import DEFAULT_IGNORE_PARAMS, drop_params, host_matches, parse_params


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("utm_source=a&id=3&fbclid=b", "id=3"),
        ("id=3", "id=3"),
        ("utm%5Fsource=a&id=3", "id=3"),  # names are compared decoded
        ("a=1&&b=2", "a=1&&b=2"),  # untouched when nothing is dropped
        ("utm_source=a", ""),
        ("utmost=1&gclid", "utmost=1"),  # utm_* is a prefix with its underscore
        ("q=utm_source%3Dx", "q=utm_source%3Dx"),  # a value is never a name
    ],
)
def test_drop_params_drops_only_the_named(query: str, kept: str) -> None:
    """Only parameters whose name matches go; the rest stays as it was, in its order."""
    assert drop_params(query, DEFAULT_IGNORE_PARAMS) == kept


def test_host_patterns_read_as_allowed_hosts_do() -> None:
    """*.domain matches its subdomains, not itself; * matches all."""
    assert host_matches("*.example.com", "a.example.com")
    assert not host_matches("*.example.com", "example.com")
    assert not host_matches("*.example.com", "badexample.com")
    assert host_matches("example.com", "example.com")
    assert host_matches("*", "anything.example")


def test_ignore_params_setting() -> None:
    """Comma-separated names with an optional final *, or none."""
    assert parse_params("utm_*, ref ,") == ("utm_*", "ref")
    assert parse_params("none") == ()
    with pytest.raises(ValueError, match="not a parameter name"):
        parse_params("a b")
