"""``litellm_settings.cache`` / ``cache_params``: LiteLLM's names, checked when the config loads.

``CacheParamsSchema`` is the marshmallow schema app.config_schema nests under ``litellm_settings``;
``from_settings`` turns the validated section into a ``CacheConfig`` (None: caching is off).
"""
import logging
import os
from dataclasses import dataclass

from marshmallow import INCLUDE, Schema, ValidationError, fields, validates_schema
from marshmallow.validate import OneOf, Range

log = logging.getLogger("switchboard.cache")

TYPES = ("local", "redis")
# LiteLLM cache types switchboard does not implement: refused by name, not silently replaced.
UNSUPPORTED_TYPES = ("redis-semantic", "qdrant-semantic", "s3", "gcs", "azure-blob", "disk")
# LiteLLM call type names -> our endpoints. Others LiteLLM knows (transcription, rerank, ...)
# name endpoints switchboard has no cache for; they are accepted and have no effect.
CALL_TYPES = {"completion": "chat", "acompletion": "chat",
              "text_completion": "completions", "atext_completion": "completions",
              "embedding": "embeddings", "aembedding": "embeddings"}
DEFAULT_TTL = 600.0
DEFAULT_MAX_ENTRIES = 1000
DEFAULT_MAX_MEMORY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CACHED_BYTES = 1024 * 1024
DEFAULT_NAMESPACE = "switchboard-cache"


class CacheParamsSchema(Schema):
    """cache_params; keys LiteLLM has and we do not use load with a warning."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(allow_none=True)
    host = fields.String(allow_none=True)
    port = fields.Integer(allow_none=True, validate=Range(min=1, max=65535))
    password = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    db = fields.Integer(allow_none=True, validate=Range(min=0))
    url = fields.String(allow_none=True)
    ssl = fields.Boolean(allow_none=True)
    ttl = fields.Float(allow_none=True, validate=Range(min=0, min_inclusive=False))
    namespace = fields.String(allow_none=True)
    supported_call_types = fields.List(fields.String(), allow_none=True)
    mode = fields.String(allow_none=True, validate=OneOf(("default_on", "default_off")))
    scope = fields.String(allow_none=True, validate=OneOf(("global", "team")))
    socket_timeout = fields.Float(allow_none=True, validate=Range(min=0, min_inclusive=False))
    max_size_in_memory = fields.Integer(allow_none=True, validate=Range(min=1))
    max_memory_bytes = fields.Integer(allow_none=True, validate=Range(min=1))
    max_cached_bytes = fields.Integer(allow_none=True, validate=Range(min=1))

    @validates_schema
    def _check_type(self, data, **kwargs):
        kind = data.get("type") or "local"
        if kind in UNSUPPORTED_TYPES:
            raise ValidationError(f"cache type {kind!r} is not supported by switchboard "
                                  f"(use one of: {', '.join(TYPES)})", field_name="type")
        if kind not in TYPES:
            raise ValidationError(f"Must be one of: {', '.join(TYPES)}.", field_name="type")
        if kind == "redis" and redis_url_of(data, os.environ) is None:
            raise ValidationError("type redis needs url or host (or REDIS_URL / REDIS_HOST in "
                                  "the environment)", field_name="type")


CACHE_PARAMS = CacheParamsSchema()
_DECLARED = frozenset(CACHE_PARAMS.fields)


@dataclass(frozen=True)
class CacheConfig:
    """What the cache stage needs, resolved once per worker."""

    type: str = "local"
    redis_url: str | None = None
    ttl: float = DEFAULT_TTL
    namespace: str = DEFAULT_NAMESPACE
    call_types: frozenset = frozenset({"chat", "completions", "embeddings"})
    default_on: bool = True
    global_scope: bool = False
    socket_timeout: float | None = None
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
    max_cached_bytes: int = DEFAULT_MAX_CACHED_BYTES


def redis_url_of(params, environ):
    """The cache's Redis URL: cache_params (url, host/port/...), else the REDIS_* variables."""
    from app.kv import redis_url
    url = redis_url(host=params.get("host"), port=params.get("port"),
                    password=params.get("password"), db=params.get("db"), url=params.get("url"),
                    username=params.get("username"), ssl=bool(params.get("ssl")))
    if url:
        return url
    return redis_url(host=environ.get("REDIS_HOST"), port=environ.get("REDIS_PORT"),
                     password=environ.get("REDIS_PASSWORD"), url=environ.get("REDIS_URL"),
                     username=environ.get("REDIS_USERNAME"), db=params.get("db"))


def from_settings(litellm_settings, environ=None):
    """The CacheConfig for ``litellm_settings`` (already validated), or None without a cache."""
    if not litellm_settings.get("cache"):
        return None
    params = litellm_settings.get("cache_params") or {}
    for key in sorted(set(params) - _DECLARED):
        log.warning("litellm_settings.cache_params.%s: not used by switchboard", key)
    kind = params.get("type") or "local"
    types = params.get("supported_call_types")
    return CacheConfig(
        type=kind,
        redis_url=redis_url_of(params, os.environ if environ is None else environ)
        if kind == "redis" else None,
        ttl=float(params.get("ttl") or DEFAULT_TTL),
        namespace=params.get("namespace") or DEFAULT_NAMESPACE,
        call_types=frozenset(CALL_TYPES[t] for t in types if t in CALL_TYPES)
        if types is not None else CacheConfig.call_types,
        default_on=params.get("mode", "default_on") != "default_off",
        global_scope=params.get("scope") == "global",
        socket_timeout=params.get("socket_timeout"),
        max_entries=params.get("max_size_in_memory") or DEFAULT_MAX_ENTRIES,
        max_memory_bytes=params.get("max_memory_bytes") or DEFAULT_MAX_MEMORY_BYTES,
        max_cached_bytes=params.get("max_cached_bytes") or DEFAULT_MAX_CACHED_BYTES)
