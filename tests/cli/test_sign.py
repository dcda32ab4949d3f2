"""`ogshot sign`: the signed URL, or the whole tag set, of a page."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from ogshot_client import ImageOptions, verify

KEY = "a-signing-key-of-some-length"

pytestmark = pytest.mark.server  # each test runs `ogshot sign` as a process


def sign(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `ogshot sign` with one signing key."""
    env = {**os.environ, "OGSHOT_SIGNING_KEYS": KEY, "OGSHOT_ALLOWED_HOSTS": "example.com"}
    return subprocess.run(
        [sys.executable, "-m", "ogshot", "sign", "--base", "https://o.example", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_signed_url_verifies() -> None:
    """The printed URL carries the options and a signature the service accepts."""
    done = sign("https://example.com/x", "-W", "800")
    assert done.returncode == 0, done.stderr
    query = parse_qs(urlsplit(done.stdout.strip()).query)
    assert query["w"] == ["800"]
    assert verify((KEY,), query["s"][0], "https://example.com/x", ImageOptions(width=800))


def test_tags_carry_the_signed_url_and_the_size() -> None:
    """With --tags every meta tag is printed, og:image signed, its size the image's pixels."""
    done = sign("https://example.com/x", "--tags", "-H", "400", "--scale", "2")
    assert done.returncode == 0, done.stderr
    lines = html.unescape(done.stdout).splitlines()
    assert lines[0].startswith('<meta property="og:image" content="https://o.example/image/')
    assert "&s=" in lines[0]
    assert lines[1:4] == [
        '<meta property="og:image:width" content="2400">',
        '<meta property="og:image:height" content="800">',
        '<meta property="og:image:type" content="image/png">',
    ]
    assert '<meta name="twitter:card" content="summary_large_image">' in lines


def test_bad_options_are_refused_in_one_line() -> None:
    """An option out of range exits 2 with the reason, nothing printed on stdout."""
    done = sign("https://example.com/x", "-W", "9000")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == "ogshot: w must be an integer from 200 to 2400"


def test_render_options_are_signed() -> None:
    """--hide (repeated), --selector, --dark, --delay and --wait-for go into the URL and its
    signature."""
    options = ["--hide", ".chat,.promo", "--hide", ".nav", "--selector", "#card", "--dark"]
    done = sign("https://example.com/x", *options, "--delay", "300", "--wait-for", "#board")
    assert done.returncode == 0, done.stderr
    query = parse_qs(urlsplit(done.stdout.strip()).query)
    assert query["hide"] == [".chat,.promo", ".nav"]
    assert (query["selector"], query["dark"], query["delay"]) == (["#card"], ["1"], ["300"])
    wanted = ImageOptions(hide=(".chat,.promo", ".nav"), selector="#card", dark=True,
                          delay=300, wait_for="#board")  # fmt: skip
    assert verify((KEY,), query["s"][0], "https://example.com/x", wanted)


def test_a_version_is_signed_as_its_own_field() -> None:
    """--version goes into the URL as v= and into its signature."""
    done = sign("https://example.com/x", "--version", "2026-12-02T10:00")
    assert done.returncode == 0, done.stderr
    query = parse_qs(urlsplit(done.stdout.strip()).query)
    assert query["v"] == ["2026-12-02T10:00"]
    signature = query["s"][0]
    assert verify((KEY,), signature, "https://example.com/x", ImageOptions(), "2026-12-02T10:00")
    assert not verify((KEY,), signature, "https://example.com/x", ImageOptions())
    bad = sign("https://example.com/x", "--version", "a b")
    assert bad.returncode == 2
    assert bad.stderr.startswith("ogshot: v must be 1 to 64 characters")
