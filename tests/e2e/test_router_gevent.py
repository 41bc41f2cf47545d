"""redis-py cooperates with gevent in the real server: a slow Redis does not serialise requests.

A proxy in front of the real Redis holds every reply for DELAY seconds. One gunicorn gevent
worker serves 200 concurrent chats, each doing its router round trips through that proxy: if
redis-py blocked the worker, they would take 200 x 2 x DELAY = 40 s; cooperating, about the
time of a few delays.
"""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.router.proxy import RedisProxy

from .helpers import model, start_gateway

DELAY = 0.1
CONCURRENT = 200


@pytest.fixture
def slow_redis(redis_clean):
    db = redis_clean.rsplit("/", 1)[1]
    proxy = RedisProxy(delay=DELAY)
    yield proxy.url(db)
    proxy.close()


def test_200_concurrent_requests_do_not_serialise_on_a_slow_redis(tmp_path, slow_redis):
    config = {"model_list": [model("m", "mock/demo"), model("m", "mock/demo2")],
              "router_settings": {"redis_url": slow_redis, "redis_socket_timeout": 5,
                                  "routing_strategy": "least-busy"},
              "general_settings": {"access_log": "off"}}
    gw = start_gateway(tmp_path / "gw", config)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    try:
        one = requests.post(gw.url + "/v1/chat/completions", json=body, timeout=10)
        assert one.status_code == 200  # also opens the first pooled Redis connection
        if 60 - time.time() % 60 < 15:  # requests_this_minute is per UTC minute
            time.sleep(60 - time.time() % 60 + 0.2)
        t0 = time.monotonic()
        with ThreadPoolExecutor(CONCURRENT) as pool:
            codes = list(pool.map(lambda _: requests.post(
                gw.url + "/v1/chat/completions", json=body, timeout=60).status_code,
                range(CONCURRENT)))
        elapsed = time.monotonic() - t0
        assert codes == [200] * CONCURRENT
        # serialised: >= 200 * 2 * 0.1 s = 40 s; concurrent: a few delays plus client overhead
        print(f"{CONCURRENT} concurrent requests through a slow Redis: {elapsed:.2f}s")
        assert elapsed < 10, f"{elapsed:.1f}s for {CONCURRENT} requests"
        status = requests.get(gw.url + "/router/status", timeout=10).json()
        served = sum(d["requests_this_minute"] for d in status["groups"][0]["deployments"])
        assert served >= CONCURRENT, gw.stderr()  # the state really went through Redis
        assert "serving with local state" not in gw.stderr()
    finally:
        gw.stop()
