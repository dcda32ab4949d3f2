"""Image versions in the helper's URLs and tags, and their signatures."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from ogshot_client import (
    ImageOptions,
    InvalidOptions,
    VersionLedger,
    og_image_url,
    og_tags,
    sign,
    verify,
)
from ogshot_client.signing import canonical

BASE = "https://ogshot.example"
PAGE = "https://example.com/board/42"
KEY = "signing-key-0123456789"


def query(url: str) -> dict[str, list[str]]:
    """The query of ``url``, parsed."""
    return parse_qs(urlsplit(url).query)


@pytest.mark.parametrize("version", ["1", "2026-12-02T10:00:00", "r.42_b:c-d", "a" * 64])
def test_versions_ride_in_the_url_and_its_signature(version: str) -> None:
    """A version is v= in the URL; the signature covers it, so another version breaks it."""
    url = og_image_url(BASE, PAGE, signing_key=KEY, version=version)
    fields = query(url)
    assert fields["v"] == [version]
    options = ImageOptions()
    assert verify((KEY,), fields["s"][0], PAGE, options, version)
    assert not verify((KEY,), fields["s"][0], PAGE, options, version + "0")
    assert not verify((KEY,), fields["s"][0], PAGE, options)


@pytest.mark.parametrize("version", ["", "a" * 65, "a b", "a/b", "é", "a\nb", "a&s=x"])
def test_other_versions_are_refused(version: str) -> None:
    """Empty, longer than 64 characters, or any character outside A-Za-z0-9._:- ."""
    with pytest.raises(InvalidOptions, match="v must be 1 to 64"):
        og_image_url(BASE, PAGE, version=version)


def test_a_url_without_a_version_keeps_its_signature() -> None:
    """No version: the signed bytes (and so every signature already written) are unchanged
    (pinned from the release before versions)."""
    options = ImageOptions.parse(width=800, format="jpg")
    assert canonical(PAGE, options) == canonical(PAGE, options, "")
    assert sign("k", PAGE, options) == "K79iuQR3FSuHV2JWxOmjsp6WH684W0pYI-Gyt4qPb7c"
    assert "v" not in query(og_image_url(BASE, PAGE, signing_key=KEY))


def test_no_version_makes_the_signed_bytes_of_another_option() -> None:
    """The version is a line of its own that no option's line can be."""
    plain = ImageOptions()
    dark = ImageOptions.parse(dark=True)
    texts = {canonical(PAGE, plain, "1"), canonical(PAGE, dark), canonical(PAGE, dark, "1"),
             canonical(PAGE, plain), canonical(PAGE, ImageOptions.parse(delay=1))}  # fmt: skip
    assert len(texts) == 5
    assert canonical(PAGE, plain, "1").endswith(b"\npng\nv=1")


def test_tags_carry_the_version_in_both_image_urls() -> None:
    """og:image and twitter:image name the versioned URL."""
    tags = og_tags(BASE, PAGE, version="7")
    assert tags.count("?v=7") == 2


def test_the_ledger_names_a_version_only_once_it_is_confirmed() -> None:
    """Asked, then confirmed by a done webhook of that version; a failed job, a late
    webhook of an older version, or one never asked for changes nothing."""
    ledger = VersionLedger()
    page = "https://example.com/board/42"
    ledger.asked(page, "r1")
    assert ledger.current(page) is None
    assert not ledger.confirm({"page_url": page, "version": "r1", "status": "failed"})
    assert ledger.confirm({"page_url": page, "version": "r1", "status": "done"})
    assert ledger.current(page) == "r1"
    ledger.asked(page, "r2")
    assert ledger.current(page) == "r1"  # r2 not rendered yet: pages keep r1
    assert not ledger.confirm({"page_url": page, "version": "r1", "status": "done"})
    assert not ledger.confirm({"page_url": page, "version": "r9", "status": "done"})
    assert ledger.confirm({"page_url": page, "version": "r2", "status": "done"})
    assert ledger.current(page) == "r2"
