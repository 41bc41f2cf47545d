"""Cache keys: a sha256 over the canonical JSON of everything that can change the answer.

Canonical means sorted object keys at every depth (orjson ``OPT_SORT_KEYS``) and no
whitespace, so two bodies that differ only in key order get one key. In the key: the endpoint,
the requested model name and every body field except ``EXCLUDED`` (``user`` stays in, as in
LiteLLM, to keep end users apart), the per-request overrides that pick or change the provider
answer (``api_key``, ``api_base``, ...: LiteLLM leaves them out, so a wrong client key would get a
cached 200), and the tenant scope (the caller's team). Secrets only ever enter the hash input.

Embeddings are keyed per input item: ``item_keys`` hashes the shared fields once, then each item.
"""
import hashlib

import orjson

# Plumbing, not input: these never change what the model answers.
EXCLUDED = frozenset({"stream", "stream_options", "metadata", "cache", "tags",
                      "litellm_metadata", "request_id"})
# Overrides that change which provider answers or what it is asked.
OVERRIDES = ("api_key", "api_base", "api_version", "organization", "extra_headers",
             "mock_response", "drop_params")
_DUMPS = orjson.dumps
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def scope_of(principal, global_scope):
    """The tenant part of a key: the caller's team (or its own key when it has no team)."""
    if global_scope or principal is None:
        return None
    team = getattr(principal, "team_id", None)
    if team is not None:
        return f"team:{team}"
    token = getattr(principal, "token", None)  # a sha256 hex, never the raw key
    return f"key:{token}" if token else None


def _overrides(overrides):
    found = {}
    for name in OVERRIDES:
        value = getattr(overrides, name, None)
        if value is not None:
            found[name] = dict(value) if name == "extra_headers" else value
    return found or None


def _fields(endpoint, body, overrides, scope, leave_out=EXCLUDED):
    wanted = {k: v for k, v in body.items() if k not in leave_out}
    return [endpoint, scope, _overrides(overrides), wanted]


def canonical(endpoint, body, overrides=None, scope=None):
    """The canonical bytes hashed into a request's key (exposed for tests)."""
    return _DUMPS(_fields(endpoint, body, overrides, scope), option=_SORTED)


def request_key(endpoint, body, overrides=None, scope=None):
    """The hex key of a whole request (chat and text completions)."""
    return hashlib.sha256(canonical(endpoint, body, overrides, scope)).hexdigest()


def input_items(value):
    """An embeddings ``input`` as a list of items (a string, or one token list, is one item)."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(x, int) for x in value):
        return [value]
    return list(value)


def item_keys(body, overrides=None, scope=None):
    """One hex key per embeddings input item (in order), sharing the other fields' hash."""
    if "encoding_format" not in body:  # the default, spelled out or not, is one answer
        body = {**body, "encoding_format": "float"}
    shared = _DUMPS(_fields("embeddings", body, overrides, scope, EXCLUDED | {"input"}),
                    option=_SORTED)
    prefix = hashlib.sha256(shared)
    keys = []
    for item in input_items(body["input"]):
        h = prefix.copy()
        h.update(b"\x00" + _DUMPS(item))
        keys.append(h.hexdigest())
    return keys


def combined_key(keys):
    """One key naming a list of item keys (the header of a batch)."""
    if len(keys) == 1:
        return keys[0]
    return hashlib.sha256("".join(keys).encode()).hexdigest()
