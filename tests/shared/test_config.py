"""Configuration: defaults, validation, secrets, and the documented variable list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.config import ConfigError, environment_names, load_config

BASE = {"OGSHOT_ALLOWED_HOSTS": "example.com"}


def test_defaults() -> None:
    """Only the allow-list is required; everything else has the documented default."""
    config = load_config(BASE)
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.storage_url == "./var/images"
    assert config.browser == "firefox"
    assert config.miss_wait == 4
    assert config.cache_ttl == 86400
    assert config.allowed_hosts == ("example.com",)
    assert config.allow_private_networks == ()
    assert config.fallback_image is None


def test_allowed_hosts_is_required() -> None:
    """Without OGSHOT_ALLOWED_HOSTS the service refuses to start, saying so."""
    with pytest.raises(ConfigError, match="OGSHOT_ALLOWED_HOSTS is required"):
        load_config({})


def test_every_bad_variable_is_named() -> None:
    """One error lists each bad variable by name."""
    with pytest.raises(ConfigError) as info:
        load_config(
            {
                **BASE,
                "OGSHOT_BROWSER": "safari",
                "OGSHOT_MISS_WAIT": "soon",
                "OGSHOT_CACHE_TTL": "-1",
                "OGSHOT_ALLOW_PRIVATE_NETWORKS": "10.0.0.0/33",
                "OGSHOT_STORAGE_URL": "ftp://x",
                "OGSHOT_FALLBACK_IMAGE": "/nonexistent.png",
            }
        )
    message = str(info.value)
    for name in (
        "OGSHOT_BROWSER",
        "OGSHOT_MISS_WAIT",
        "OGSHOT_CACHE_TTL",
        "OGSHOT_ALLOW_PRIVATE_NETWORKS",
        "OGSHOT_STORAGE_URL",
        "OGSHOT_FALLBACK_IMAGE",
    ):
        assert name in message


def test_bad_host_pattern_is_refused() -> None:
    """An allow-list entry that is not a host or *.domain pattern is refused."""
    with pytest.raises(ConfigError, match="OGSHOT_ALLOWED_HOSTS"):
        load_config({"OGSHOT_ALLOWED_HOSTS": "https://example.com/"})


def test_config_is_frozen_and_hides_the_redis_password() -> None:
    """The object cannot be changed and its repr never shows a password."""
    config = load_config({**BASE, "OGSHOT_REDIS_URL": "redis://:s3cret@redis:6379/0"})
    assert "s3cret" not in repr(config)
    with pytest.raises(AttributeError):
        config.browser = "chromium"  # type: ignore[misc]


def test_bad_redis_url_error_hides_the_password() -> None:
    """Even the error message for a bad Redis URL leaves the password out."""
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, "OGSHOT_REDIS_URL": "http://:s3cret@redis/"})
    assert "s3cret" not in str(info.value)


def test_time_limits_are_ordered() -> None:
    """Page timeout < soft limit < hard limit < lock lifetime."""
    config = load_config(BASE)
    assert config.render_timeout < config.soft_time_limit < config.hard_time_limit
    assert config.hard_time_limit < config.lock_ttl


def test_docs_name_exactly_the_variables_read() -> None:
    """docs/configuration.md documents every variable the code reads, and no other."""
    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", text, flags=re.MULTILINE))
    assert documented == set(environment_names())


def test_webhook_hosts_need_a_secret() -> None:
    """Webhooks are signed always: hosts without OGSHOT_WEBHOOK_SECRET stop start-up."""
    env = {"OGSHOT_ALLOWED_HOSTS": "example.com", "OGSHOT_WEBHOOK_HOSTS": "hooks.example.com"}
    with pytest.raises(ConfigError, match="OGSHOT_WEBHOOK_SECRET is required"):
        load_config(env)
    config = load_config({**env, "OGSHOT_WEBHOOK_SECRET": "w" * 32})
    assert config.webhook_hosts == ("hooks.example.com",)
    assert "w" * 32 not in repr(config)
