"""The cache stage of the request pipeline (app/gateway.py calls these four functions).

    begin(endpoint, body)   in prepare: pop the controls (``cache`` never goes upstream) and
                            decide whether this request reads and/or writes the cache
    lookup(call)            first thing in execute: the stored answer (a dict, RawJSON, or a
                            Replay for a stream) or None; embeddings: drop the cached items
                            from what the provider is asked
    keep(call, result)      after a provider success: store the answer (a stream is wrapped and
                            stored when it ends normally); embeddings: merge the items back
    add_headers(headers)    x-switchboard-cache-hit / -cache-key, x-litellm-cache-key

Every write happens before the answer (or a stream's [DONE]) goes out, so the next request on
any instance sees it. A store that cannot be reached makes the request a plain miss.
"""
import logging

import orjson
from flask import current_app, g, request

from app import errors
from app.cache import answers, controls, keys
from app.cache.backends import UNREACHABLE, LocalStore, RedisStore
from app.cache.config import from_settings
from app.cache.embeddings import Batch

EXTENSION = "switchboard.cache"
log = logging.getLogger("switchboard.cache")


class Cache:
    """The worker's cache: its config, its store and its counters."""

    def __init__(self, config, store, registry=None):
        from prometheus_client import Counter
        self.config = config
        self.store = store
        self.hits = Counter("switchboard_cache_hits", "Answers served from the cache",
                            ["call_type"], registry=registry)
        self.misses = Counter("switchboard_cache_misses", "Cache lookups that found nothing "
                              "usable", ["call_type"], registry=registry)
        self.errors = Counter("switchboard_cache_errors", "Cache reads/writes that could not "
                              "reach the store", ["operation"], registry=registry)

    def get_many(self, names):
        """Entries for full key names; all None (a miss) when the store is unreachable."""
        found = self.store.get_many(names)
        if found is UNREACHABLE:
            self.errors.labels("read").inc()
            return [None] * len(names)
        return found

    def set_many(self, items, ttl):
        """Store (name, entry) pairs no larger than max_cached_bytes."""
        limit = self.config.max_cached_bytes
        items = [(k, v) for k, v in items if len(v) <= limit]
        if items and not self.store.set_many(items, ttl):
            self.errors.labels("write").inc()


class State:
    """One request's dealings with the cache (``g.cache_state``)."""

    __slots__ = ("cache", "controls", "read", "write", "key", "hit", "batch")

    def __init__(self, cache, ctl, active):
        self.cache = cache
        self.controls = ctl
        self.read = active and not ctl.no_cache
        self.write = active and not ctl.no_store and ctl.ttl != 0
        self.key = self.batch = None
        self.hit = False

    def name(self, key):
        """The store key: ``<namespace>:<key>``."""
        return f"{self.controls.namespace or self.cache.config.namespace}:{key}"

    @property
    def ttl(self):
        """Seconds to keep what this request stores."""
        return self.controls.ttl or self.cache.config.ttl


def init_app(app, settings, registry=None):
    """Build the worker's cache from ``litellm_settings`` (None when caching is off)."""
    config = from_settings(settings.litellm_settings)
    if config is None:
        app.extensions[EXTENSION] = None
        return
    if config.type == "redis":
        from app import kv
        store = RedisStore(kv.connect(app, config.redis_url, config.socket_timeout,
                                      label="cache redis"))
    else:
        store = LocalStore(config.max_entries, config.max_memory_bytes)
    app.extensions[EXTENSION] = Cache(config, store, registry)


def cache_of(app):
    """The app's Cache, or None when caching is off."""
    return app.extensions.get(EXTENSION)


def begin(endpoint, body):
    """Pop the request's cache controls; set ``g.cache_state`` (None: the cache is not used)."""
    cache = current_app.extensions.get(EXTENSION)
    if cache is None:
        body.pop("cache", None)
        g.cache_state = None
        return
    ctl = controls.take(body, request.headers.get("Cache-Control"))
    config = cache.config
    wanted = ctl.use_cache if ctl.use_cache is not None else config.default_on
    g.cache_state = State(cache, ctl, wanted and endpoint in config.call_types)


def lookup(call):
    """The stored answer for ``call`` or None (then the provider is asked)."""
    state = g.get("cache_state")
    if state is None or not (state.read or state.write):
        return None
    scope = keys.scope_of(getattr(g, "principal", None), state.cache.config.global_scope)
    try:
        if call.endpoint == "embeddings":
            return _lookup_items(state, call, scope)
        state.key = keys.request_key(call.endpoint, call.body, call.overrides, scope)
    except TypeError as exc:
        # orjson encodes at most 254 levels; the provider call would refuse the body the same way
        if "Recursion limit" not in str(exc):
            raise
        raise errors.InvalidRequestError(
            "The request body is nested too deeply (more than 254 levels).") from None
    if not state.read:
        return None
    entry = state.cache.get_many([state.name(state.key)])[0]
    answer = _answer_of(entry, state.controls.max_age) if entry is not None else None
    _mark(state, call, answer is not None)
    if answer is None:
        return None
    call.usage = answer.get("usage")
    if call.stream:
        return answers.Replay(answers.replay(call.endpoint, answer, _wants_usage(call)))
    return answer


def _answer_of(entry, max_age):
    payload = answers.unpack(entry, max_age)
    if payload is None:
        return None
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return answer if isinstance(answer, dict) and answer.get("choices") else None


def _lookup_items(state, call, scope):
    items = keys.input_items(call.body["input"])
    if not items:  # validation refuses an empty input; nothing to look up either way
        return None
    item_keys = keys.item_keys(call.body, call.overrides, scope)
    state.key = keys.combined_key(item_keys)
    entries = state.cache.get_many([state.name(k) for k in item_keys]) if state.read \
        else [None] * len(item_keys)
    batch = Batch(item_keys, entries, state.controls.max_age, items)
    if state.read and batch.complete:
        _mark(state, call, True)
        return batch.answer_from_cache()
    if state.read:
        _mark(state, call, False)
    if len(batch.missing) < len(item_keys):  # some cached, or repeated: ask for the rest once
        call.body = {**call.body, "input": batch.upstream_input()}
    if state.write or len(batch.missing) < len(item_keys):
        state.batch = batch
    return None


def _mark(state, call, hit):
    state.hit = hit
    g.log["cache_hit"] = hit
    (state.cache.hits if hit else state.cache.misses).labels(call.endpoint).inc()


def _wants_usage(call):
    options = call.body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def keep(call, result):
    """After a provider success: store what may be stored; returns what the client gets."""
    state = g.get("cache_state")
    if state is None:
        return result
    if call.endpoint == "embeddings":
        return _keep_items(state, result)
    if not state.write or state.key is None:
        return result
    if call.stream:
        limit = 4 * state.cache.config.max_cached_bytes
        return answers.Recorder(result, lambda payloads: _store_stream(state, call, payloads),
                                limit)
    try:
        answer = result if isinstance(result, dict) else orjson.loads(bytes(result))
    except orjson.JSONDecodeError:
        return result
    _store(state, call.endpoint, answer)
    return result


def _keep_items(state, result):
    batch = state.batch
    if batch is None:
        return result
    try:
        answer, entries = batch.merge(result)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        answer, entries = None, []
    if answer is None:
        if batch.untouched:  # the provider was asked what the client sent: its answer stands
            return result
        raise errors.BadGatewayError(
            f"the provider answered {len(batch.missing)} inputs with a different number of "
            "embeddings")
    if state.write:
        state.cache.set_many([(state.name(k), v) for k, v in entries], state.ttl)
    return answer


def _store_stream(state, call, payloads):
    try:
        answer = answers.assemble(call.endpoint, payloads, call.usage)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        log.warning("could not read a finished stream back; not cached")
        return
    if answer is not None:
        _store(state, call.endpoint, answer)


def _store(state, endpoint, answer):
    if not answers.storable(endpoint, answer):
        return
    try:
        payload = orjson.dumps(answer)
    except TypeError:  # deeper than orjson writes: the client still gets its answer
        log.warning("an answer could not be encoded for the cache; not cached")
        return
    state.cache.set_many([(state.name(state.key), answers.pack(payload))], state.ttl)


def add_headers(headers):
    """Tell the client whether the answer came from the cache, and under which key."""
    state = g.get("cache_state")
    if state is None:
        return
    headers.add("x-switchboard-cache-hit", "true" if state.hit else "false")
    if state.key is not None:
        headers.add("x-switchboard-cache-key", state.key)
        headers.add("x-litellm-cache-key", state.key)
    if state.hit and "x-switchboard-response-cost" not in headers:
        headers.add("x-switchboard-response-cost", "0")
