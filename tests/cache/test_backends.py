"""The stores: the local LRU's bounds and expiry, Redis through the shared KV."""
import socket
import time

from app import kv
from app.cache.backends import UNREACHABLE, LocalStore, RedisStore


def test_local_lru_bounded_by_entries():
    store = LocalStore(max_entries=3, max_bytes=10_000)
    store.set_many([("a", b"1"), ("b", b"2"), ("c", b"3")], 60)
    assert store.get_many(["a"]) == [b"1"]  # a is now the most recently used
    store.set_many([("d", b"4")], 60)
    assert store.get_many(["a", "b", "c", "d"]) == [b"1", None, b"3", b"4"]
    assert len(store) == 3


def test_local_lru_bounded_by_bytes():
    store = LocalStore(max_entries=100, max_bytes=10)
    store.set_many([("a", b"12345"), ("b", b"12345")], 60)
    store.set_many([("c", b"123")], 60)
    assert store.get_many(["a", "b", "c"]) == [None, b"12345", b"123"]
    assert store.bytes == 8
    store.set_many([("big", b"x" * 11)], 60)  # larger than the whole store: not kept
    assert store.get_many(["big", "b"]) == [None, b"12345"]
    store.set_many([("b", b"1")], 60)  # replacing an entry gives its bytes back
    assert store.bytes == 4


def test_local_entries_expire():
    store = LocalStore(10, 1000)
    store.set_many([("a", b"1")], 0.05)
    assert store.get_many(["a"]) == [b"1"]
    time.sleep(0.06)
    assert store.get_many(["a"]) == [None]
    assert len(store) == 0 and store.bytes == 0


def test_redis_store_round_trip_with_ttl(redis_clean):
    import redis
    store = RedisStore(kv.KV(redis_clean))
    assert store.set_many([("ns:a", b"1")], 5)
    assert store.set_many([("ns:b", b"2"), ("ns:c", b"3")], 0.5)
    assert store.get_many(["ns:a"]) == [b"1"]
    assert store.get_many(["ns:a", "ns:x", "ns:c"]) == [b"1", None, b"3"]
    raw = redis.Redis.from_url(redis_clean)
    assert 4000 < raw.pttl("ns:a") <= 5000
    assert 0 < raw.pttl("ns:b") <= 500


def test_redis_store_unreachable_is_a_quick_miss():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = kv.KV(f"redis://127.0.0.1:{port}/1")
    store = RedisStore(client)
    t0 = time.monotonic()
    assert store.get_many(["a"]) is UNREACHABLE
    assert store.set_many([("a", b"1")], 5) is False
    assert time.monotonic() - t0 < 0.5
    client.close()
