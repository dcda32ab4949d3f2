"""Every kind of value the configuration accepts builds a web app and a worker.

A setting the configuration accepts must never fail later at start-up (it once accepted
OGSHOT_ALLOWED_HOSTS=* and then crashed building the URL policy); one it refuses gets one
line naming the variable.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from PIL import Image

from ogshot.services import web_argv, worker_argv
from shared.config import SETTINGS, ConfigError, load_config
from shared.jobs import celery_settings
from web import create_app
from worker.egress import GuardPool
from worker.state import build_state

pytestmark = pytest.mark.server
KEY = "k" * 32


def _examples(tmp: Path, redis_url: str, s3_endpoint: str) -> dict[str, list[str]]:
    """Values of every kind each setting accepts (its edges and its forms)."""
    png = tmp / "fallback.png"
    jpeg = tmp / "fallback.jpg"
    for path, kind in ((png, "PNG"), (jpeg, "JPEG")):
        out = io.BytesIO()
        Image.new("RGB", (1200, 630), (1, 2, 3)).save(out, kind)
        path.write_bytes(out.getvalue())
    sites = tmp / "sites.toml"
    sites.write_text('[sites."example.com"]\nwait_for = "#board tr"\nhide = [".chat,.promo"]\n'
                     '[sites."*.example.org"]\ndark = true\ndelay = 500\n'
                     'ignore_params = ["utm_*", "ref"]\n')  # fmt: skip
    empty = tmp / "empty.toml"
    empty.write_text("")
    return {
        "OGSHOT_REDIS_URL": [redis_url, redis_url.replace("redis://", "redis://:secret@"),
                             "rediss://127.0.0.1:1/0", "redis://localhost"],
        "OGSHOT_STORAGE_URL": [str(tmp / "images"), "relative/images", f"file://{tmp}/images",
                               "s3://settings-bucket", "s3://settings-bucket/some/prefix"],
        "OGSHOT_MEMORY_CACHE_MB": ["0", "100000"],
        "OGSHOT_MEMORY_CACHE_SECONDS": ["0", "0.5", "86400"],
        "OGSHOT_S3_ENDPOINT_URL": [s3_endpoint, "https://s3.example.com",
                                   "http://[::1]:9000/"],
        "OGSHOT_ALLOWED_HOSTS": ["*", "example.com", "*.example.com", "EXAMPLE.com.",
                                 "bücher.example", "127.0.0.1", "::1", "[::1]", "0x7f.1",
                                 "a.example, *.b.example ,10.0.0.1"],
        "OGSHOT_ALLOW_PRIVATE_NETWORKS": ["10.0.0.0/8", "127.0.0.1", "10.0.0.1/8,fd00::/8"],
        "OGSHOT_BROWSER": ["firefox", "chromium"],
        "OGSHOT_BROWSER_BINARY": ["/bin/sh"],
        "OGSHOT_MISS_WAIT": ["0", "0.5", "60"],
        "OGSHOT_CACHE_TTL": ["0", str(365 * 86400)],
        "OGSHOT_FALLBACK_IMAGE": [str(png), str(jpeg)],
        "OGSHOT_MAX_WAITING": ["0", "10000"],
        "OGSHOT_WEB_THREADS": ["1", "1000"],
        "OGSHOT_RENDER_TIMEOUT": ["1", "2.5", "300"],
        "OGSHOT_READY_TIMEOUT": ["0", "60"],
        "OGSHOT_HIDE_CONSENT": ["true", "off"],
        "OGSHOT_QUALITY_GATE": ["false", "on"],
        "OGSHOT_FAILURE_TTL": ["0", "86400"],
        "OGSHOT_IGNORE_PARAMS": ["none", "utm_*,fbclid", "ref"],
        "OGSHOT_SITES_FILE": [str(sites), str(empty)],
        "OGSHOT_BROWSER_MAX_RENDERS": ["1", "100000"],
        "OGSHOT_WORKER_CONCURRENCY": ["1", "64"],
        "OGSHOT_RENDERS_PER_BROWSER": ["1", "32"],
        "OGSHOT_WORKER_NICE": ["0", "19"],
        "PORT": ["1", "65535"],
        "OGSHOT_API_TOKENS": ["t" * 16, "t" * 16 + ", " + "u" * 40],
        "OGSHOT_PREWARM_DEBOUNCE": ["0", "60"],
        "OGSHOT_ADMIN_PASSWORD": ["p" * 12],
        "OGSHOT_SECRET_KEY": [KEY],
        "OGSHOT_TRUSTED_PROXIES": ["0", "10"],
        "OGSHOT_LOG_FORMAT": ["text", "json"],
        "OGSHOT_WORKER_METRICS_PORT": ["0", "65535"],
        "OGSHOT_SIGNING_KEYS": ["s" * 16, "s" * 16 + "," + "r" * 16],
        "OGSHOT_REQUIRE_SIGNATURE": ["auto", "true", "false", "ON", "0"],
        "OGSHOT_ALLOWED_PORTS": ["80", "1,65535"],
        "OGSHOT_MAX_PAGE_BYTES": ["1000", str(10**10)],
        "OGSHOT_MAX_PAGE_REQUESTS": ["1", "100000"],
        "OGSHOT_MAX_QUEUE": ["1", str(10**7)],
        "OGSHOT_HOST_RENDERS_PER_MINUTE": ["0", str(10**6)],
        "OGSHOT_CLIENT_MISSES_PER_MINUTE": ["0", str(10**6)],
        "OGSHOT_WEBHOOK_HOSTS": ["", "hooks.example.com", "*.example.com,10.0.0.5"],
        "OGSHOT_WEBHOOK_SECRET": ["", KEY],
        "OGSHOT_WEBHOOK_HORIZON": ["1", "86400"],
        "OGSHOT_WEBHOOK_TIMEOUT": ["1", "60"],
    }  # fmt: skip


# What some values need beside them to be accepted at all.
NEEDS = {
    ("OGSHOT_ALLOWED_HOSTS", "*"): {"OGSHOT_SIGNING_KEYS": "s" * 16},
    ("OGSHOT_REQUIRE_SIGNATURE", "true"): {"OGSHOT_SIGNING_KEYS": "s" * 16},
    ("OGSHOT_REQUIRE_SIGNATURE", "ON"): {"OGSHOT_SIGNING_KEYS": "s" * 16},
    ("OGSHOT_ADMIN_PASSWORD", "p" * 12): {"OGSHOT_SECRET_KEY": KEY},
    ("OGSHOT_WEBHOOK_HOSTS", "hooks.example.com"): {"OGSHOT_WEBHOOK_SECRET": KEY},
    ("OGSHOT_WEBHOOK_HOSTS", "*.example.com,10.0.0.5"): {"OGSHOT_WEBHOOK_SECRET": KEY},
}


def _cases() -> Iterator[tuple[str, int]]:
    # Indices, not values: the values need the test's own paths and servers.
    counts = {
        "OGSHOT_REDIS_URL": 4, "OGSHOT_STORAGE_URL": 5, "OGSHOT_MEMORY_CACHE_MB": 2,
        "OGSHOT_MEMORY_CACHE_SECONDS": 3,
        "OGSHOT_S3_ENDPOINT_URL": 3, "OGSHOT_ALLOWED_HOSTS": 10,
        "OGSHOT_ALLOW_PRIVATE_NETWORKS": 3, "OGSHOT_BROWSER": 2, "OGSHOT_BROWSER_BINARY": 1,
        "OGSHOT_MISS_WAIT": 3, "OGSHOT_CACHE_TTL": 2, "OGSHOT_FALLBACK_IMAGE": 2,
        "OGSHOT_MAX_WAITING": 2, "OGSHOT_WEB_THREADS": 2, "OGSHOT_RENDER_TIMEOUT": 3,
        "OGSHOT_READY_TIMEOUT": 2, "OGSHOT_HIDE_CONSENT": 2, "OGSHOT_QUALITY_GATE": 2,
        "OGSHOT_FAILURE_TTL": 2, "OGSHOT_IGNORE_PARAMS": 3, "OGSHOT_SITES_FILE": 2,
        "OGSHOT_BROWSER_MAX_RENDERS": 2, "OGSHOT_WORKER_CONCURRENCY": 2,
        "OGSHOT_RENDERS_PER_BROWSER": 2, "OGSHOT_WORKER_NICE": 2,
        "PORT": 2, "OGSHOT_API_TOKENS": 2, "OGSHOT_PREWARM_DEBOUNCE": 2,
        "OGSHOT_ADMIN_PASSWORD": 1, "OGSHOT_SECRET_KEY": 1, "OGSHOT_TRUSTED_PROXIES": 2,
        "OGSHOT_LOG_FORMAT": 2, "OGSHOT_WORKER_METRICS_PORT": 2, "OGSHOT_SIGNING_KEYS": 2,
        "OGSHOT_REQUIRE_SIGNATURE": 5, "OGSHOT_ALLOWED_PORTS": 2, "OGSHOT_MAX_PAGE_BYTES": 2,
        "OGSHOT_MAX_PAGE_REQUESTS": 2, "OGSHOT_MAX_QUEUE": 2,
        "OGSHOT_HOST_RENDERS_PER_MINUTE": 2, "OGSHOT_CLIENT_MISSES_PER_MINUTE": 2,
        "OGSHOT_WEBHOOK_HOSTS": 3, "OGSHOT_WEBHOOK_SECRET": 2, "OGSHOT_WEBHOOK_HORIZON": 2,
        "OGSHOT_WEBHOOK_TIMEOUT": 2,
    }  # fmt: skip
    for name, count in counts.items():
        for index in range(count):
            yield name, index


def test_every_setting_has_examples(tmp_path: Path) -> None:
    """A new setting cannot be added without values of each kind in the test below."""
    examples = _examples(tmp_path, "redis://127.0.0.1:1", "http://127.0.0.1:1")
    assert set(examples) == {s.name for s in SETTINGS}
    assert {(n, len(v)) for n, v in examples.items()} == {
        (n, max(i for m, i in _cases() if m == n) + 1) for n in examples
    }


@pytest.fixture(scope="module")
def guards() -> Iterator[list[GuardPool]]:
    """Egress guards of the built workers, closed together at the end.

    Closing one waits out its server's half-second poll: in parallel, once, not per case.
    """
    opened: list[GuardPool] = []
    yield opened
    closing = [threading.Thread(target=guard.close) for guard in opened]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join()


@pytest.mark.parametrize(("name", "index"), list(_cases()))
def test_accepted_value_builds_web_and_worker(  # noqa: PLR0917 - parameters plus fixtures
    name: str,
    index: int,
    tmp_path: Path,
    redis_url: str,
    s3_endpoint: str,
    guards: list[GuardPool],
) -> None:
    """The configuration accepts the value, and the web app and a worker build from it."""
    value = _examples(tmp_path, redis_url, s3_endpoint)[name][index]
    env = {
        "OGSHOT_ALLOWED_HOSTS": "example.com",
        "OGSHOT_REDIS_URL": redis_url,
        "OGSHOT_STORAGE_URL": str(tmp_path / "images"),
        **NEEDS.get((name, value), {}),
        name: value,
    }
    if env["OGSHOT_STORAGE_URL"].startswith("s3://") and name != "OGSHOT_S3_ENDPOINT_URL":
        env["OGSHOT_S3_ENDPOINT_URL"] = s3_endpoint
    if env.get("OGSHOT_S3_ENDPOINT_URL") and name == "OGSHOT_S3_ENDPOINT_URL":
        env["OGSHOT_STORAGE_URL"] = str(tmp_path / "images")  # no request to a fake endpoint
    config = load_config(env)
    app = create_app(config)
    assert app.test_client().get("/healthz").status_code == 200
    state = build_state(config)
    guards.append(state.egress)
    assert state.policy.allowed_hosts
    celery = Celery("settings-test")
    celery.conf.update(celery_settings(config))
    celery.connection_for_write()  # parses the broker URL, connects to nothing
    assert web_argv(config, "127.0.0.1:1", 1)
    assert worker_argv(config, None, "INFO")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OGSHOT_ALLOWED_HOSTS", "999.1.1.1"),
        ("OGSHOT_ALLOWED_HOSTS", "1.2.3.4.5"),
        ("OGSHOT_ALLOWED_HOSTS", "abc:def"),
        ("OGSHOT_ALLOWED_HOSTS", "::1::2"),
        ("OGSHOT_ALLOWED_HOSTS", "exa mple.com"),
        ("OGSHOT_ALLOWED_HOSTS", "*.10.0.0.1"),
        ("OGSHOT_ALLOWED_HOSTS", "**.example.com"),
        ("OGSHOT_S3_ENDPOINT_URL", "minio:9000"),
        ("OGSHOT_S3_ENDPOINT_URL", "http://minio:port"),
        ("OGSHOT_BROWSER_BINARY", "/nonexistent/firefox"),
        ("OGSHOT_REDIS_URL", "unix:///run/redis.sock"),
        ("OGSHOT_REDIS_URL", "redis://127.0.0.1:99999/0"),
        ("OGSHOT_REDIS_URL", "redis://127.0.0.1:6379/zero"),
        ("OGSHOT_READY_TIMEOUT", "-1"),
        ("OGSHOT_MEMORY_CACHE_SECONDS", "1m"),
        ("OGSHOT_MEMORY_CACHE_SECONDS", "86401"),
        ("OGSHOT_HIDE_CONSENT", "auto"),
        ("OGSHOT_QUALITY_GATE", "sometimes"),
        ("OGSHOT_FAILURE_TTL", "5m"),
        ("OGSHOT_IGNORE_PARAMS", "utm source"),
        ("OGSHOT_SITES_FILE", "/nonexistent/sites.toml"),
        ("OGSHOT_WEBHOOK_HOSTS", "*"),
        ("OGSHOT_WEBHOOK_HOSTS", "exa mple.com"),
        ("OGSHOT_WEBHOOK_SECRET", "too-short"),
        ("OGSHOT_WEBHOOK_HORIZON", "0"),
        ("OGSHOT_WEBHOOK_TIMEOUT", "61"),
    ],
)
def test_refused_value_is_one_line_naming_the_variable(name: str, value: str) -> None:
    """A value that could not start the service is refused by the configuration, named."""
    env = {"OGSHOT_ALLOWED_HOSTS": "example.com", name: value}
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    problems = str(caught.value).splitlines()[1:]
    assert len(problems) == 1
    assert problems[0].strip().startswith(f"{name}=")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[sites.example.com\n", "not valid TOML"),
        ('[hosts."example.com"]\n', "unknown table(s) hosts"),
        (
            '[sites."example.com"]\ncolour = "red"\n',
            'sites."example.com"]: unknown option(s) colour',
        ),
        ('[sites."example.com"]\nhide = ".chat"\n', "hide has the wrong type"),
        ('[sites."example.com"]\nhide = ["div >"]\n', "hide is not a valid CSS selector"),
        ('[sites."example.com"]\ndelay = 20000\n', "delay must be"),
        ('[sites."a b"]\ndark = true\n', 'sites."a b"]'),
        ('[sites."example.com"]\nignore_params = ["a b"]\n', "is not a parameter name"),
    ],
)
def test_a_bad_sites_file_is_refused_naming_the_table_and_option(
    tmp_path: Path, text: str, reason: str
) -> None:
    """OGSHOT_SITES_FILE is checked at start-up like every setting: one line, named."""
    sites = tmp_path / "sites.toml"
    sites.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config({"OGSHOT_ALLOWED_HOSTS": "example.com", "OGSHOT_SITES_FILE": str(sites)})
    problems = str(caught.value).splitlines()[1:]
    assert len(problems) == 1
    assert problems[0].strip().startswith("OGSHOT_SITES_FILE=")
    assert reason in problems[0]


def test_fallback_file_that_is_no_image_is_refused(tmp_path: Path) -> None:
    """OGSHOT_FALLBACK_IMAGE naming a file that is not an image is a config error, not a crash."""
    text = tmp_path / "fallback.png"
    text.write_text("not an image")
    with pytest.raises(ConfigError, match=r"OGSHOT_FALLBACK_IMAGE=.*not an image"):
        load_config({"OGSHOT_ALLOWED_HOSTS": "example.com", "OGSHOT_FALLBACK_IMAGE": str(text)})
