"""The shared Redis client: bounded calls, the circuit breaker, scripts, gevent cooperation."""
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from app import kv


def test_redis_url_from_split_settings():
    assert kv.redis_url(host="h", port=6380, password="p@ss", db=3) == "redis://:p%40ss@h:6380/3"
    assert kv.redis_url(url="redis://h:1", db=4) == "redis://h:1/4"
    assert kv.redis_url(url="redis://h:1/2", db=4) == "redis://h:1/2"
    assert kv.redis_url() is None


def test_run_and_script_against_real_redis(redis_clean):
    client = kv.KV(redis_clean)
    assert client.run(lambda r: r.set("k", "v")) is True
    assert client.run(lambda r: r.get("k")) == b"v"
    assert client.available


def test_refused_connection_opens_breaker_and_probe_closes_it():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()  # nothing listens: connections are refused
    client = kv.KV(f"redis://127.0.0.1:{port}/0", probe_interval=0.1)
    t0 = time.monotonic()
    assert client.run(lambda r: r.get("x"), fallback="local") == "local"
    assert not client.available
    for _ in range(100):  # an open breaker answers without touching the network
        assert client.run(lambda r: r.get("x"), fallback=None) is None
    assert time.monotonic() - t0 < 0.5
    with pytest.raises(kv.KVUnavailableError):
        client.run(lambda r: r.get("x"))
    client.close()


def test_silent_redis_is_time_limited():
    """A server that accepts but never answers costs one socket timeout, then nothing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    try:
        client = kv.KV(f"redis://127.0.0.1:{port}/0", socket_timeout=0.05, probe_interval=5)
        t0 = time.monotonic()
        assert client.run(lambda r: r.get("x"), fallback="local") == "local"
        assert time.monotonic() - t0 < 0.5
        t0 = time.monotonic()
        assert client.run(lambda r: r.get("x"), fallback="local") == "local"
        assert time.monotonic() - t0 < 0.01
        client.close()  # stops the probe thread, which would outlive the test
    finally:
        server.close()


def test_probe_reconnects_when_redis_comes_back(redis_clean):
    client = kv.KV(redis_clean, probe_interval=0.05)
    client._trip(OSError("simulated"))
    assert not client.available
    deadline = time.monotonic() + 2
    while not client.available and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.available
    assert client.run(lambda r: r.ping()) is True
    client.close()


def test_redis_cooperates_with_gevent(redis_url):
    """200 greenlets each blocked 0.2 s inside Redis finish together, not one after another."""
    code = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import time, gevent
        from app import kv
        client = kv.KV({redis_url!r}, socket_timeout=5)
        # BLPOP on an empty list blocks server-side for its timeout: a slow Redis call.
        def slow(i):
            return client.run(lambda r: r.blpop(f"sb-test-empty-{{i}}", timeout=0.2))
        t0 = time.monotonic()
        gevent.joinall([gevent.spawn(slow, i) for i in range(200)], raise_error=True)
        print(round(time.monotonic() - t0, 3))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    elapsed = float(out.stdout.strip())
    assert elapsed < 3.0, f"200 x 0.2 s Redis calls took {elapsed} s: they serialised"


def test_breaker_is_thread_safe_under_concurrent_failures():
    client = kv.KV("redis://127.0.0.1:1/0", probe_interval=10)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        client.run(lambda r: r.get("x"), fallback=0))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 20
    assert not client.available
    client.close()
