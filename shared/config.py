"""Configuration: read once from the environment into one frozen, typed object.

This is the only module that reads ``os.environ``; everything else receives a ``Config``.
Every setting is declared in ``SETTINGS`` with its default and a description, which is
also what docs/configuration.md documents (a test keeps the two in step).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.sites import DEFAULT_IGNORE_PARAMS, Site, parse_params, read_sites

ENGINES = ("firefox", "chromium")


class ConfigError(ValueError):
    """Raised with one line per bad variable, naming each."""


@dataclass(frozen=True)
class Config:
    """Everything ogshot can be told, validated."""

    redis_url: str = field(repr=False)
    storage_url: str
    memory_cache_mb: int
    memory_cache_seconds: float
    s3_endpoint_url: str | None
    allowed_hosts: tuple[str, ...]
    allow_private_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    browser: str
    browser_binary: Path | None
    miss_wait: float
    cache_ttl: int
    fallback_image: Path | None
    max_waiting: int
    web_threads: int
    render_timeout: float
    ready_timeout: float
    hide_consent: bool
    quality_gate: bool
    failure_ttl: int
    ignore_params: tuple[str, ...]
    sites: tuple[Site, ...]
    browser_max_renders: int
    worker_concurrency: int
    renders_per_browser: int
    worker_nice: int
    port: int
    api_tokens: tuple[str, ...] = field(repr=False)
    prewarm_debounce: float
    admin_password: str = field(repr=False)
    secret_key: str = field(repr=False)
    trusted_proxies: int
    log_format: str
    worker_metrics_port: int
    signing_keys: tuple[str, ...] = field(repr=False)
    require_signature: bool
    allowed_ports: tuple[int, ...]
    max_page_bytes: int
    max_page_requests: int
    max_queue: int
    host_renders_per_minute: int
    client_misses_per_minute: int
    webhook_hosts: tuple[str, ...]
    webhook_secret: str = field(repr=False)
    webhook_horizon: int
    webhook_timeout: float

    def __repr__(self) -> str:
        # Secrets never reach a log line: the Redis URL loses its password, tokens are counted.
        shown = {name: getattr(self, name) for name in self.__dataclass_fields__}
        shown["redis_url"] = redact_url(self.redis_url)
        shown["api_tokens"] = f"<{len(self.api_tokens)} tokens>"
        shown["admin_password"] = "***" if self.admin_password else ""
        shown["secret_key"] = "***" if self.secret_key else ""
        shown["signing_keys"] = f"<{len(self.signing_keys)} keys>"
        shown["webhook_secret"] = "***" if self.webhook_secret else ""
        return "Config(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def soft_time_limit(self) -> float:
        """Seconds after which a render task is asked to stop."""
        # Room for the page load, a pre-warm's debounce wait and the lock wait before it,
        # and for the longest delay= an image URL may ask (10 s, after the page is ready).
        return self.render_timeout + 40

    @property
    def hard_time_limit(self) -> float:
        """Seconds after which a render task's process is killed."""
        return self.soft_time_limit + 15

    @property
    def lock_ttl(self) -> int:
        """Seconds a single-flight lock lives if nobody releases it (a worker died)."""
        return int(self.hard_time_limit) + 30


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _hosts(raw: str) -> tuple[str, ...]:
    # Each host goes through the URL policy's own parser, so that what is accepted here is
    # what the policy later matches against (IDNA, IP forms); a bad one fails here, named.
    from shared.urlpolicy import normalize_host

    hosts = tuple(h.strip() for h in raw.split(",") if h.strip())
    if not hosts:
        raise ValueError("is required: a comma-separated list such as example.com,*.example.com")
    normalized = []
    for host in hosts:
        if host == "*":
            normalized.append(host)  # any host: only with required signatures (load_config)
            continue
        wildcard = host.startswith("*.")
        try:
            name = normalize_host(host[2:] if wildcard else host.strip("[]"))
        except ValueError as exc:
            raise ValueError(f"{host!r} is no host, IP address or *.domain: {exc}") from None
        if wildcard and _is_address(name):
            raise ValueError(f"{host!r}: a *. pattern needs a domain name, not an address")
        normalized.append(f"*.{name}" if wildcard else name)
    return tuple(normalized)


def _webhook_hosts(raw: str) -> tuple[str, ...]:
    # Names, not addresses, decide: a site's own server may sit on a private network.
    if not raw.strip():
        return ()
    hosts = _hosts(raw)
    if "*" in hosts:
        raise ValueError("name the hosts (or *.domain): * would let a caller POST anywhere")
    return hosts


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in raw.split(",") if n.strip())


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return parse


_engine = _choice(*ENGINES)


def _number(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            noun = "a whole number" if kind is int else "a number"
            raise ValueError(f"must be {noun} from {low:g} to {high:g}")
        return value

    return parse


def _redis(raw: str) -> str:
    # Three libraries read it: redis-py (locks, jobs), kombu (the queue) and limits (rate
    # limits). They spell unix sockets three ways, so only TCP URLs are accepted, and
    # redis-py's own parser checks the rest (the port, say).
    from redis.connection import parse_url

    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("must be a redis:// or rediss:// URL (unix sockets are not supported)")
    if not parts.hostname:
        raise ValueError("needs a host: redis://host:6379/0")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError("the database must be a number: redis://host:6379/0")
    parse_url(raw)  # type: ignore[no-untyped-call]
    return raw


def _storage(raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme == "s3" and not urlsplit(raw).netloc:
        raise ValueError("s3:// URL needs a bucket: s3://bucket[/prefix]")
    if scheme not in ("", "file", "s3"):
        raise ValueError("must be a path, a file:// URL or s3://bucket[/prefix]")
    return raw


def _tokens(raw: str) -> tuple[str, ...]:
    tokens = tuple(t.strip() for t in raw.split(",") if t.strip())
    if any(len(t) < 16 for t in tokens):
        raise ValueError("each token must be at least 16 characters")
    return tokens


def _ports(raw: str) -> tuple[int, ...]:
    ports = tuple(int(p) for p in raw.split(",") if p.strip())
    if any(not 0 < p < 65536 for p in ports):
        raise ValueError("must be port numbers from 1 to 65535")
    return ports


def _flag(raw: str) -> bool | None:
    if raw.lower() in ("", "auto"):
        return None
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _switch(raw: str) -> bool:
    value = _flag(raw)
    if value is None:
        raise ValueError("must be true or false")
    return value


def _admin_password(raw: str) -> str:
    if raw and len(raw) < 12:
        raise ValueError("must be at least 12 characters")
    return raw


def _secret_key(raw: str) -> str:
    if raw and len(raw) < 32:
        raise ValueError(
            "must be at least 32 characters: "
            "python3 -c 'import secrets; print(secrets.token_hex())' makes one"
        )
    return raw


def _webhook_secret(raw: str) -> str:
    if raw and len(raw) < 32:
        raise ValueError("must be at least 32 characters")
    return raw


def _sites(raw: str) -> tuple[Site, ...]:
    # Host patterns as OGSHOT_ALLOWED_HOSTS reads them; options as an image URL's are read.
    from shared.keys import RenderRequest

    def pattern(text: str) -> str:
        hosts = _hosts(text)
        if len(hosts) != 1:
            raise ValueError("one host pattern per table")
        return hosts[0]

    def options(given: Mapping[str, Any]) -> None:
        RenderRequest.build("", **given)

    path = Path(raw)
    if not path.is_file():
        raise ValueError(f"{raw} is not a readable file")
    return read_sites(path, pattern, options)


def _fallback(raw: str) -> Path:
    # Read and decoded the way the web reads it at start-up, so a file that is no image (or
    # cannot be read) is refused here with the variable's name, not by a crash later.
    from shared.imaging import load_fallback_file

    path = Path(raw)
    if not path.is_file():
        raise ValueError(f"{raw} is not a readable file")
    try:
        load_fallback_file(path)
    except OSError as exc:
        raise ValueError(f"{raw} cannot be read: {exc.strerror or exc}") from None
    return path


def _endpoint(raw: str) -> str:
    # botocore refuses an endpoint without an http(s) scheme and host when the client is built.
    parts = urlsplit(raw)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"has a bad port: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL, e.g. http://minio:9000")
    return raw


def _executable(raw: str) -> Path:
    path = Path(raw)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ValueError(f"{raw} is not an executable file")
    return path


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, the Config field, default (None: unset), meaning."""

    name: str
    attr: str
    default: str | None
    parse: Callable[[str], Any]
    help: str


# fmt: off
SETTINGS: tuple[Setting, ...] = (
    Setting("OGSHOT_REDIS_URL", "redis_url", "redis://127.0.0.1:6379/0", _redis,
            "Redis for the queue, locks and job results."),
    Setting("OGSHOT_STORAGE_URL", "storage_url", "./var/images", _storage,
            "Filesystem path, file:// URL or s3://bucket[/prefix]."),
    Setting("OGSHOT_MEMORY_CACHE_MB", "memory_cache_mb", "64", _number(int, 0, 100_000),
            "MiB of recent images each web process keeps in memory."),
    Setting("OGSHOT_MEMORY_CACHE_SECONDS", "memory_cache_seconds", "60",
            _number(float, 0, 86_400),
            "Seconds an image in memory is served without asking storage (changes are heard "
            "over Redis; 0: ask on every hit)."),
    Setting("OGSHOT_S3_ENDPOINT_URL", "s3_endpoint_url", None, _endpoint,
            "Endpoint of an S3-compatible server (MinIO...); unset for AWS."),
    Setting("OGSHOT_ALLOWED_HOSTS", "allowed_hosts", None, _hosts,
            "Required. Hosts that may be rendered: example.com, *.example.com."),
    Setting("OGSHOT_ALLOW_PRIVATE_NETWORKS", "allow_private_networks", "", _networks,
            "CIDRs that may be rendered although they are not public addresses."),
    Setting("OGSHOT_BROWSER", "browser", "firefox", _engine,
            "Engine the workers use: firefox or chromium."),
    Setting("OGSHOT_BROWSER_BINARY", "browser_binary", None, _executable,
            "The browser's executable; default: Debian's Firefox ESR or Chromium."),
    Setting("OGSHOT_MISS_WAIT", "miss_wait", "4", _number(float, 0, 60),
            "Seconds a request for an uncached image waits before the fallback."),
    Setting("OGSHOT_CACHE_TTL", "cache_ttl", "86400", _number(int, 0, 365 * 86400),
            "Seconds an image stays fresh (Cache-Control max-age)."),
    Setting("OGSHOT_FALLBACK_IMAGE", "fallback_image", None, _fallback,
            "Image file served instead of the drawn fallback."),
    Setting("OGSHOT_MAX_WAITING", "max_waiting", "16", _number(int, 0, 10_000),
            "Requests per web process that may wait for a render at once."),
    Setting("OGSHOT_WEB_THREADS", "web_threads", "32", _number(int, 1, 1_000),
            "Threads per gunicorn process of `ogshot web`."),
    Setting("OGSHOT_RENDER_TIMEOUT", "render_timeout", "15", _number(float, 1, 300),
            "Seconds a page may take to load before its render fails."),
    Setting("OGSHOT_READY_TIMEOUT", "ready_timeout", "3", _number(float, 0, 60),
            "Seconds after load a render waits for the page to be ready; 0: no wait."),
    Setting("OGSHOT_HIDE_CONSENT", "hide_consent", "true", _switch,
            "Refuse or hide cookie-consent banners before the shot (autoconsent)."),
    Setting("OGSHOT_QUALITY_GATE", "quality_gate", "true", _switch,
            "Refuse to store a render that is blank (one colour); bot checks are refused always."),
    Setting("OGSHOT_FAILURE_TTL", "failure_ttl", "300", _number(int, 0, 86400),
            "Seconds a failed render is remembered: its image gets the fallback, no new render."),
    Setting("OGSHOT_IGNORE_PARAMS", "ignore_params", ",".join(DEFAULT_IGNORE_PARAMS),
            parse_params, "Query parameters dropped from page URLs (tracking); name* = prefix."),
    Setting("OGSHOT_SITES_FILE", "sites", None, _sites,
            "TOML file of per-site default render options (docs/pages.md)."),
    Setting("OGSHOT_BROWSER_MAX_RENDERS", "browser_max_renders", "200", _number(int, 1, 100_000),
            "Renders after which a worker restarts its browser."),
    Setting("OGSHOT_WORKER_CONCURRENCY", "worker_concurrency", "2", _number(int, 1, 64),
            "Worker processes (one browser each) started by `ogshot worker`."),
    Setting("OGSHOT_RENDERS_PER_BROWSER", "renders_per_browser", "1", _number(int, 1, 32),
            "Renders at once in each worker process's browser, each in a context of its own."),
    Setting("OGSHOT_WORKER_NICE", "worker_nice", "10", _number(int, 0, 19),
            "Nice value added to workers and their browsers, so hits on the same host win."),
    Setting("PORT", "port", "8000", _number(int, 1, 65535),
            "Port `ogshot web` listens on (as container platforms set it)."),
    Setting("OGSHOT_API_TOKENS", "api_tokens", "", _tokens,
            "Bearer tokens accepted by the JSON API (pre-warm, jobs); empty: API closed."),
    Setting("OGSHOT_PREWARM_DEBOUNCE", "prewarm_debounce", "2", _number(float, 0, 60),
            "Seconds pre-warms of one image are gathered into one render."),
    Setting("OGSHOT_ADMIN_PASSWORD", "admin_password", "", _admin_password,
            "Password of the admin pages at /admin; empty: no admin pages (404)."),
    Setting("OGSHOT_SECRET_KEY", "secret_key", "", _secret_key,
            "Key that signs admin session cookies; required with OGSHOT_ADMIN_PASSWORD."),
    Setting("OGSHOT_TRUSTED_PROXIES", "trusted_proxies", "0", _number(int, 0, 10),
            "Reverse proxies in front of the web whose X-Forwarded-* headers are believed."),
    Setting("OGSHOT_LOG_FORMAT", "log_format", "text", _choice("text", "json"),
            "Log lines as plain text or as one JSON object each."),
    Setting("OGSHOT_WORKER_METRICS_PORT", "worker_metrics_port", "9808", _number(int, 0, 65535),
            "Port where a worker host serves its Prometheus metrics (0: none)."),
    Setting("OGSHOT_SIGNING_KEYS", "signing_keys", "", _tokens,
            "HMAC keys for signed image URLs; the first signs, all verify."),
    Setting("OGSHOT_REQUIRE_SIGNATURE", "require_signature", "auto", _flag,
            "Refuse unsigned image URLs; default: true when signing keys are set."),
    Setting("OGSHOT_ALLOWED_PORTS", "allowed_ports", "80,443", _ports,
            "Ports the browser may connect to (any port inside an allowed private network)."),
    Setting("OGSHOT_MAX_PAGE_BYTES", "max_page_bytes", "25000000", _number(int, 1000, 10**10),
            "Bytes one render may pull through the egress guard."),
    Setting("OGSHOT_MAX_PAGE_REQUESTS", "max_page_requests", "500", _number(int, 1, 100_000),
            "Requests one render may make through the egress guard."),
    Setting("OGSHOT_MAX_QUEUE", "max_queue", "1000", _number(int, 1, 10**7),
            "Waiting render jobs beyond which misses get the fallback and queue nothing."),
    Setting("OGSHOT_HOST_RENDERS_PER_MINUTE", "host_renders_per_minute", "120",
            _number(int, 0, 10**6), "Renders queued per page host per minute (0: no limit)."),
    Setting("OGSHOT_CLIENT_MISSES_PER_MINUTE", "client_misses_per_minute", "120",
            _number(int, 0, 10**6), "Misses per client address per minute (0: no limit)."),
    Setting("OGSHOT_WEBHOOK_HOSTS", "webhook_hosts", "", _webhook_hosts,
            "Hosts pre-warm webhooks may be sent to: hooks.example.com, *.example.com; "
            "empty: no webhooks."),
    Setting("OGSHOT_WEBHOOK_SECRET", "webhook_secret", "", _webhook_secret,
            "Key of the webhooks' HMAC-SHA256 signatures; required with OGSHOT_WEBHOOK_HOSTS."),
    Setting("OGSHOT_WEBHOOK_HORIZON", "webhook_horizon", "3600", _number(int, 1, 86_400),
            "Seconds after a job's end within which a failed webhook is tried again."),
    Setting("OGSHOT_WEBHOOK_TIMEOUT", "webhook_timeout", "10", _number(float, 1, 60),
            "Seconds one webhook call may take before it counts as failed."),
)
SECRET_NAMES = (
    "OGSHOT_API_TOKENS", "OGSHOT_ADMIN_PASSWORD", "OGSHOT_SECRET_KEY", "OGSHOT_SIGNING_KEYS",
    "OGSHOT_WEBHOOK_SECRET",
)
# Read by `ogshot prewarm`, a client of a running service: no server settings needed.
CLIENT_SETTINGS = (
    Setting("OGSHOT_SERVER", "server", "http://127.0.0.1:8000", str,
            "Base URL of the ogshot service `ogshot prewarm` talks to."),
    Setting("OGSHOT_API_TOKEN", "token", "", str,
            "Bearer token `ogshot prewarm` sends (one of the server's OGSHOT_API_TOKENS)."),
)
# fmt: on


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build the configuration from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        attr, parse = setting.attr, setting.parse
        raw = env.get(setting.name, "").strip() or setting.default
        if raw is None:
            if setting.name == "OGSHOT_ALLOWED_HOSTS":
                problems.append(
                    f"{setting.name} is required: the hosts ogshot may render, "
                    "e.g. example.com,*.example.com"
                )
            values[attr] = None
            continue
        try:
            values[attr] = parse(raw)
        except ValueError as exc:
            shown = redact_url(raw) if setting.name.endswith("_URL") else raw
            if setting.name in SECRET_NAMES:
                shown = "***"
            problems.append(f"{setting.name}={shown!r}: {exc}")
    if values.get("sites") is None:
        values["sites"] = ()
    if values.get("require_signature") is None:
        values["require_signature"] = bool(values.get("signing_keys"))
    if values["require_signature"] and not values.get("signing_keys"):
        problems.append("OGSHOT_REQUIRE_SIGNATURE is true but OGSHOT_SIGNING_KEYS is empty")
    if "*" in (values.get("allowed_hosts") or ()) and not values["require_signature"]:
        problems.append(
            "OGSHOT_ALLOWED_HOSTS=* (any host) is accepted only with OGSHOT_SIGNING_KEYS set "
            "and OGSHOT_REQUIRE_SIGNATURE true: otherwise anyone could render anything"
        )
    if values.get("admin_password") and not values.get("secret_key"):
        problems.append("OGSHOT_SECRET_KEY is required when OGSHOT_ADMIN_PASSWORD is set")
    if values.get("webhook_hosts") and not values.get("webhook_secret"):
        problems.append("OGSHOT_WEBHOOK_SECRET is required when OGSHOT_WEBHOOK_HOSTS is set")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return Config(**values)


def environment_names() -> list[str]:
    """Return the names of every variable ogshot reads."""
    return [s.name for s in (*SETTINGS, *CLIENT_SETTINGS)]


@dataclass(frozen=True)
class ClientConfig:
    """What `ogshot prewarm` needs to reach a running service."""

    server: str
    token: str = field(repr=False)


def load_client_config(environ: Mapping[str, str] | None = None) -> ClientConfig:
    """Read the client settings (server URL, API token) from ``environ``."""
    env = os.environ if environ is None else environ
    values = {s.attr: env.get(s.name, "").strip() or s.default or "" for s in CLIENT_SETTINGS}
    return ClientConfig(**values)


def child_environment(**overrides: str) -> dict[str, str]:
    """Return this process's environment with ``overrides``, for processes ogshot starts."""
    return {**os.environ, **overrides}
