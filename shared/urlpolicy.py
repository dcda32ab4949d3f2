"""URL policy: which page URLs ogshot may render.

The URL is parsed, never compared as a string: ``startswith("https://example.com")`` would
accept ``https://example.com.evil.net`` and ``https://example.com@evil.net``. The web checks
a URL before anything is queued and the worker checks it again before the browser navigates.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from shared.sites import DEFAULT_IGNORE_PARAMS, Site, drop_params, host_matches, site_for

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Iterable[str]]


class PolicySettings(Protocol):
    """The settings a policy is built from (``shared.config.Config`` has them). A protocol,
    not the class: config parses its hosts with this module, which must not import it back."""

    @property
    def allowed_hosts(self) -> tuple[str, ...]: ...
    @property
    def allow_private_networks(self) -> tuple[IPNetwork, ...]: ...
    @property
    def allowed_ports(self) -> tuple[int, ...]: ...
    @property
    def ignore_params(self) -> tuple[str, ...]: ...
    @property
    def sites(self) -> tuple[Site, ...]: ...


# S3 user metadata is capped at 2 KiB and carries the URL; see shared/storage/s3.py.
MAX_URL_LENGTH = 1500
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


class InvalidURL(ValueError):  # noqa: N818 - reads as the outcome: 400
    """The text is not a usable URL (answered with 400)."""


class RefusedURL(ValueError):  # noqa: N818 - reads as the outcome: 403
    """The URL is well formed but ogshot must not render it (answered with 403)."""


def _parse_ipv4_part(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part, 10)


def _ends_in_number(host: str) -> bool:
    last = host.rsplit(".", maxsplit=1)[-1]
    if last.isdigit() and last.isascii():
        return True
    return last[:2].lower() == "0x" and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address:
    """Parse an IPv4 host the way browsers do (decimal, octal, hex and short forms)."""
    parts = host.split(".")
    if len(parts) > 4 or any(p == "" for p in parts):
        raise InvalidURL(f"invalid IPv4 address {host!r}")
    try:
        numbers = [_parse_ipv4_part(p) for p in parts]
    except ValueError:
        raise InvalidURL(f"invalid IPv4 address {host!r}") from None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise InvalidURL(f"invalid IPv4 address {host!r}")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def normalize_host(host: str) -> str:
    """Return the host lower-cased, without a trailing dot, IDNA-encoded, IPs canonical."""
    if host.endswith("."):
        host = host[:-1]
    if not host or "%" in host:
        raise InvalidURL("URL has an invalid host")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address {host!r}") from None
    if _ends_in_number(host):
        return str(parse_ipv4_host(host))
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidURL(f"invalid host name {host!r}") from None
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
    if not set(ascii_host) <= allowed or ".." in ascii_host or len(ascii_host) > 253:
        raise InvalidURL(f"invalid host name {host!r}")
    return ascii_host


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address that an IPv4-mapped, 6to4, NAT64 or compatible form carries."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or int(ip) >> 32 == 0:
        # NAT64 (RFC 6052) and the deprecated IPv4-compatible ::a.b.c.d keep it in the low bits.
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def _is_public(ip: IPAddress) -> bool:
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve_host(host: str, port: int) -> list[str]:
    """Return every address ``host`` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _host_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]


@dataclass(frozen=True)
class UrlPolicy:
    """The allow-list of hosts and the private networks that may be rendered anyway."""

    allowed_hosts: tuple[str, ...]
    allow_private_networks: tuple[IPNetwork, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    # Query parameters dropped from page URLs (OGSHOT_IGNORE_PARAMS; a site may have its own).
    ignore_params: tuple[str, ...] = DEFAULT_IGNORE_PARAMS
    sites: tuple[Site, ...] = ()  # OGSHOT_SITES_FILE

    @classmethod
    def from_config(cls, config: PolicySettings) -> UrlPolicy:
        """Build the policy from the service configuration (whose hosts are normalized)."""
        return cls(
            config.allowed_hosts,
            config.allow_private_networks,
            config.allowed_ports,
            config.ignore_params,
            config.sites,
        )

    def normalize(self, raw: str) -> str:
        """Return the canonical form of ``raw``, or raise if it is malformed or not allowed.

        This checks syntax and the host allow-list only; ``check_addresses`` does the DNS part.
        """
        if not raw:
            raise InvalidURL("no page URL given")
        if len(raw) > MAX_URL_LENGTH:
            raise InvalidURL(f"page URL is longer than {MAX_URL_LENGTH} characters")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
            raise InvalidURL("page URL contains whitespace or control characters")
        if "\\" in raw:
            # Browsers read "\" as "/" in http(s) URLs, so it could move the authority.
            raise RefusedURL("page URL contains a backslash")
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError as exc:
            raise InvalidURL(f"page URL is malformed: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise RefusedURL(
                f"only http and https URLs are rendered, not {scheme or 'relative'} ones"
            )
        if not parts.netloc:
            raise InvalidURL("page URL has no host")
        if "@" in parts.netloc:
            raise RefusedURL("page URL must not contain user information (user@host)")
        host = normalize_host(parts.hostname or "")
        authority = self._authority(scheme, host, port)
        url = f"{scheme}://{authority}{quote(parts.path, safe=_SAFE_PATH) or '/'}"
        # Tracking parameters go: each page has one image, whatever link it was shared with.
        query = drop_params(parts.query, self._ignored(host))
        if query:
            url += "?" + quote(query, safe=_SAFE_QUERY)
        if parts.fragment:
            url += "#" + quote(parts.fragment, safe=_SAFE_QUERY)
        return url

    def _authority(self, scheme: str, host: str, port: int | None) -> str:
        if port == 0:
            raise InvalidURL("page URL has port 0")
        if not self.host_allowed(host):
            raise RefusedURL(f"host {host} is not in OGSHOT_ALLOWED_HOSTS")
        netloc = f"[{host}]" if ":" in host else host
        if port is not None and port != _DEFAULT_PORTS[scheme]:
            netloc += f":{port}"
        return netloc

    def _ignored(self, host: str) -> tuple[str, ...]:
        site = site_for(self.sites, host) if self.sites else None
        if site is not None and site.ignore_params is not None:
            return site.ignore_params
        return self.ignore_params

    def site_defaults(self, url: str) -> dict[str, Any]:
        """The sites file's default render options for a normalized URL's host (none: {})."""
        site = site_for(self.sites, url_host(url)) if self.sites else None
        return site.defaults() if site is not None else {}

    def host_allowed(self, host: str) -> bool:
        """Tell whether a normalized host matches the allow-list (``*`` only with required
        signatures, which config enforces)."""
        return any(host_matches(pattern, host) for pattern in self.allowed_hosts)

    def address_allowed(self, ip: IPAddress) -> bool:
        """Tell whether the browser may connect to ``ip``."""
        if self._in_private(ip):
            return True
        # A wrapped IPv4 (mapped, 6to4, NAT64) reaches that IPv4: judge the IPv4.
        if isinstance(ip, ipaddress.IPv6Address) and (v4 := embedded_ipv4(ip)) is not None:
            ip = v4
        return _is_public(ip)

    def allowed_addresses(
        self, host: str, port: int, resolve: Resolver = resolve_host
    ) -> list[IPAddress]:
        """Resolve ``host`` and return its addresses, or raise RefusedURL if any is not allowed.

        The port must be in OGSHOT_ALLOWED_PORTS unless every address is in an allowed
        private network (development servers listen on any port).
        """
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            try:
                found = list(resolve(host, port))
            except OSError:
                raise RefusedURL(f"host {host} does not resolve") from None
            if not found:
                raise RefusedURL(f"host {host} does not resolve") from None
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        for ip in addresses:
            if not self.address_allowed(ip):
                raise RefusedURL(f"host {host} resolves to {ip}, which is not a public address")
        if port not in self.allowed_ports and not all(self._in_private(ip) for ip in addresses):
            raise RefusedURL(f"port {port} is not in OGSHOT_ALLOWED_PORTS")
        return addresses

    def _in_private(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and (v4 := embedded_ipv4(ip)) is not None:
            ip = v4
        return any(ip in net for net in self.allow_private_networks)

    def check_addresses(self, url: str, resolve: Resolver = resolve_host) -> None:
        """Raise ``RefusedURL`` unless every address of the URL's host may be reached."""
        host, port = _host_of(url)
        self.allowed_addresses(host, port, resolve)

    def check(self, raw: str, resolve: Resolver = resolve_host) -> str:
        """Normalize ``raw`` and check its addresses; return the canonical URL."""
        url = self.normalize(raw)
        self.check_addresses(url, resolve)
        return url


def url_host(url: str) -> str:
    """Return the host of an already normalized URL."""
    return _host_of(url)[0]
