"""litellm_settings.cache / cache_params: LiteLLM's names, checked at load time."""
import logging

import pytest

from app.cache.config import from_settings
from app.config import ConfigError, load_config
from tests.conftest import base_config


def settings_with(**litellm):
    config = base_config()
    config["litellm_settings"].update(litellm)
    return load_config(config).litellm_settings


def test_no_cache_unless_asked():
    assert from_settings(settings_with()) is None
    assert from_settings(settings_with(cache=False, cache_params={"type": "local"})) is None


def test_cache_true_alone_is_a_local_cache_with_litellm_defaults():
    got = from_settings(settings_with(cache=True))
    assert got.type == "local" and got.ttl == 600 and got.default_on and not got.global_scope
    assert got.call_types == {"chat", "completions", "embeddings"}
    assert got.max_cached_bytes == 1024 * 1024


def test_redis_params_and_environment():
    got = from_settings(settings_with(cache=True, cache_params={
        "type": "redis", "host": "10.0.0.5", "port": 6380, "password": "pw", "db": 3,
        "ttl": 60, "namespace": "team-a", "mode": "default_off", "scope": "global",
        "supported_call_types": ["acompletion", "aembedding", "atranscription"],
        "socket_timeout": 0.02}))
    assert got.redis_url == "redis://:pw@10.0.0.5:6380/3"
    assert (got.ttl, got.namespace, got.default_on, got.global_scope) == (60, "team-a", False,
                                                                          True)
    assert got.call_types == {"chat", "embeddings"} and got.socket_timeout == 0.02
    env = {"REDIS_HOST": "r.example", "REDIS_PORT": "6390", "REDIS_PASSWORD": "x"}
    section = settings_with(cache=True, cache_params={"type": "redis", "url": "redis://u:1/2"})
    assert from_settings(section, env).redis_url == "redis://u:1/2"
    section["cache_params"] = {"type": "redis", "db": 4}
    assert from_settings(section, env).redis_url == "redis://:x@r.example:6390/4"


def test_redis_without_any_address_is_refused(monkeypatch):
    for name in ("REDIS_URL", "REDIS_HOST"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="cache_params.type: type redis needs url or host"):
        settings_with(cache=True, cache_params={"type": "redis"})
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/5")
    section = settings_with(cache=True, cache_params={"type": "redis"})
    assert from_settings(section).redis_url == "redis://127.0.0.1:6379/5"


@pytest.mark.parametrize("params, message", [
    ({"type": "s3"}, "cache type 's3' is not supported by switchboard"),
    ({"type": "memcache"}, "Must be one of: local, redis"),
    ({"mode": "sometimes"}, "cache_params.mode"),
    ({"ttl": 0}, "cache_params.ttl"),
    ({"max_cached_bytes": -1}, "cache_params.max_cached_bytes"),
    ({"scope": "user"}, "cache_params.scope"),
])
def test_bad_params_name_the_key(params, message):
    with pytest.raises(ConfigError, match=message):
        settings_with(cache=True, cache_params=params)


def test_unknown_params_are_warned_about(caplog):
    section = settings_with(cache=True, cache_params={"similarity_threshold": 0.8})
    with caplog.at_level(logging.WARNING, logger="switchboard.cache"):
        assert from_settings(section) is not None
    assert "cache_params.similarity_threshold: not used" in caplog.text
