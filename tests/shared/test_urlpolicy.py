"""URL policy: parsing, normalization, allow-list and address checks."""

from __future__ import annotations

import ipaddress

import pytest

from shared.urlpolicy import InvalidURL, RefusedURL, UrlPolicy, parse_ipv4_host

POLICY = UrlPolicy(("example.com", "*.example.org", "127.0.0.1"))
PUBLIC = "93.184.216.34"


def public_resolver(host: str, port: int) -> list[str]:
    """Resolve every name to one public address."""
    return [PUBLIC]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://example.com", "https://example.com/"),
        ("HTTPS://EXAMPLE.COM./Board/42", "https://example.com/Board/42"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a?b=1#c", "http://example.com:8080/a?b=1#c"),
        ("https://www.example.org/x y", None),  # whitespace is refused below
        ("https://a.b.example.org/é", "https://a.b.example.org/%C3%A9"),
        ("http://127.0.0.1:5000/p", "http://127.0.0.1:5000/p"),
        ("http://0x7f.1:5000/p", "http://127.0.0.1:5000/p"),
    ],
)
def test_normalize_canonicalizes(raw: str, expected: str | None) -> None:
    """Scheme and host are lower-cased, default ports and trailing dots dropped, IPs canonical."""
    if expected is None:
        with pytest.raises(InvalidURL):
            POLICY.normalize(raw)
    else:
        assert POLICY.normalize(raw) == expected


def test_idna_hosts_are_encoded() -> None:
    """A Unicode host is matched and returned in its IDNA (punycode) form."""
    policy = UrlPolicy(("xn--bcher-kva.example",))
    assert policy.normalize("https://Bücher.example/") == "https://xn--bcher-kva.example/"


@pytest.mark.parametrize(
    "raw",
    [
        "https://example.com.evil.net/",
        "https://example.com@evil.net/",
        "https://user:pw@example.com/",
        "https://evil.net/?https://example.com",
        "https://evil.net#@example.com",
        "https://example.org/",  # only subdomains match *.example.org
        "https://notexample.org/",
        "https://example.com\\@evil.net/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/html,hi",
        "//example.com/",
        "http://127.0.0.2/",
        "http://2130706434/",  # 127.0.0.2 in decimal
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_refused_urls(raw: str) -> None:
    """Look-alike hosts, userinfo, other schemes and hosts off the list are refused."""
    with pytest.raises((RefusedURL, InvalidURL)):
        POLICY.check(raw, public_resolver)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "https://",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "x" * 2000,
        "http://example.com:0/",
        "http://exa%41mple.com/",
        "http://[::1/",
    ],
)
def test_malformed_urls(raw: str) -> None:
    """Text that is not a usable URL is InvalidURL (a 400), not a refusal."""
    with pytest.raises(InvalidURL):
        POLICY.normalize(raw)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::1",
        "64:ff9b::10.0.0.1",
        "64:ff9b:1::a00:1",
        "::127.0.0.1",
        "198.18.0.1",
    ],
)
def test_private_addresses_are_refused(address: str) -> None:
    """A host resolving to a non-public address (or a wrapped form of one) is refused."""
    with pytest.raises(RefusedURL, match="not a public address"):
        POLICY.check("https://example.com/", lambda host, port: [address])


def test_one_private_address_among_public_ones_is_refused() -> None:
    """Every address must be public, not just the first."""
    with pytest.raises(RefusedURL):
        POLICY.check("https://example.com/", lambda host, port: [PUBLIC, "10.0.0.1"])


def test_public_addresses_pass() -> None:
    """Public IPv4 and IPv6 answers are accepted, including a mapped public IPv4."""
    for answer in ([PUBLIC], ["2606:2800:220:1:248:1893:25c8:1946"], ["::ffff:93.184.216.34"]):
        assert POLICY.check("https://example.com/a", lambda h, p, a=answer: a) == (
            "https://example.com/a"
        )


def test_allow_private_networks() -> None:
    """OGSHOT_ALLOW_PRIVATE_NETWORKS lets a listed private range through, and only it."""
    policy = UrlPolicy(("127.0.0.1", "app.internal"), (ipaddress.ip_network("127.0.0.1/32"),))
    assert policy.check("http://127.0.0.1:8000/x") == "http://127.0.0.1:8000/x"
    with pytest.raises(RefusedURL):
        policy.check("http://app.internal/", lambda h, p: ["127.0.0.2"])


def test_unresolvable_host_is_refused() -> None:
    """A host that does not resolve cannot be rendered."""

    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(RefusedURL, match="does not resolve"):
        POLICY.check("https://example.com/", fail)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("10.0x10.1", "10.16.0.1"),
    ],
)
def test_ipv4_forms_parse_like_browsers(host: str, expected: str) -> None:
    """Short, octal, hex and decimal IPv4 forms are read as browsers read them."""
    assert str(parse_ipv4_host(host)) == expected


def test_numeric_looking_hosts_that_are_not_ipv4_are_invalid() -> None:
    """A host ending in a number that is not a valid IPv4 is malformed, as in browsers."""
    with pytest.raises(InvalidURL):
        POLICY.normalize("http://1.2.3.4.5/")
    with pytest.raises(InvalidURL):
        POLICY.normalize("http://256.1.1.1/")
