"""Embeddings cached per input item: only the items not in the cache go to the provider.

An item's entry is ``pack(model + b"\\n" + the embedding as JSON)`` (a float list, or the base64
string: the format is part of the key). The answer is written as bytes, so vectors that came
from the cache are never parsed or re-encoded, and the result is in the order the client sent.
``usage`` counts what the provider was sent for this request (0 when every item was cached).
"""
import orjson

from app.cache.answers import pack, unpack
from app.providers.base import RawJSON


class Batch:
    """One embeddings request against the cache: which items are known, which to ask for."""

    __slots__ = ("keys", "found", "missing", "items")

    def __init__(self, keys, entries, max_age, items):
        self.keys = keys
        self.items = items
        self.found = {}  # position -> (model, embedding JSON bytes)
        for pos, entry in enumerate(entries):
            if entry is None:
                continue
            payload = unpack(entry, max_age)
            model, _, vector = (payload or b"").partition(b"\n")
            if vector:
                self.found[pos] = (model, vector)
        # Positions to ask for, each distinct item once (a batch may repeat a text).
        self.missing = {}
        for pos, key in enumerate(keys):
            if pos not in self.found:
                self.missing.setdefault(key, pos)

    @property
    def untouched(self):
        """The provider is asked for exactly what the client sent."""
        return not self.found and len(self.missing) == len(self.keys)

    @property
    def complete(self):
        """Every item came from the cache."""
        return not self.missing

    def upstream_input(self):
        """The ``input`` list for the provider: the missing items, each once."""
        return [self.items[pos] for pos in self.missing.values()]

    def answer_from_cache(self):
        """The whole answer when every item was cached."""
        model = self.found[0][0]
        return _render([self.found[p][1] for p in range(len(self.keys))], model,
                       {"prompt_tokens": 0, "total_tokens": 0})

    def merge(self, result):
        """(the client's answer, [(key, entry)] to store) from the provider's answer."""
        data = result if isinstance(result, dict) else orjson.loads(bytes(result))
        rows = sorted(data.get("data") or (), key=lambda d: d.get("index", 0))
        if len(rows) != len(self.missing):
            return None, []
        model = str(data.get("model") or "").encode()
        fresh = {}
        for key, row in zip(self.missing, rows, strict=True):
            fresh[key] = orjson.dumps(row.get("embedding"))
        entries = [(k, pack(model + b"\n" + v)) for k, v in fresh.items()]
        if self.untouched:
            return result, entries  # nothing to merge: the provider's answer as it came
        vectors = [self.found[p][1] if p in self.found else fresh[k]
                   for p, k in enumerate(self.keys)]
        return _render(vectors, model, data.get("usage")), entries


def _render(vectors, model, usage):
    data = b",".join(b'{"object":"embedding","index":%d,"embedding":%s}' % (i, v)
                     for i, v in enumerate(vectors))
    return RawJSON(b'{"object":"list","data":[' + data + b'],"model":'
                   + orjson.dumps(model.decode("utf-8", "replace")) + b',"usage":'
                   + orjson.dumps(usage) + b"}")
