"""SIGHUP under load with the router's state in Redis: new workers, no failed request."""
import signal

import requests

from tests.e2e.helpers import UPSTREAM_KEY, model, wait_for

from .conftest import Load, start_gunicorn

HELLO = [{"role": "user", "content": "reload the router"}]


def test_hup_with_redis_router_state_has_zero_failures(tmp_path, fake_upstream, redis_clean):
    up = {"api_base": fake_upstream.base, "api_key": UPSTREAM_KEY}
    config = {"model_list": [
        {**model("gpt-3.5-turbo", "openai/gpt-a", **up), "model_info": {"id": "a"}},
        {**model("gpt-3.5-turbo", "openai/gpt-b", **up), "model_info": {"id": "b"}}],
        "router_settings": {"redis_url": redis_clean, "routing_strategy": "least-busy",
                            "num_retries": 1},
        "general_settings": {"access_log": "off"}}
    fake_upstream.reset()
    gateway = start_gunicorn(tmp_path / "gw", config, workers=2)
    try:
        with Load(gateway.client, HELLO) as load:
            assert wait_for(lambda: len(load.done) >= 20, timeout=10)
            for n in (1, 2):
                before = len(load.done)
                gateway.proc.send_signal(signal.SIGHUP)
                # the reload is done when both new workers booted (2 at start, 2 per reload)
                assert wait_for(lambda: gateway.stderr().count("Booting worker") >= 2 + 2 * n,
                                timeout=15), gateway.stderr()
                assert wait_for(lambda: len(load.done) >= before + 40, timeout=15)
        assert load.failures == [], gateway.stderr()
        assert set(load.done) == {"echo: reload the router"}
        # every reservation was released, streams included, across the worker generations
        rows = requests.get(gateway.url + "/router/status", timeout=5).json()["groups"][0]
        assert wait_for(lambda: all(d["in_flight"] == 0 for d in requests.get(
            gateway.url + "/router/status", timeout=5).json()["groups"][0]["deployments"]), 5)
        assert {d["id"] for d in rows["deployments"]} == {"a", "b"}
        assert gateway.stderr().count("Handling signal: hup") == 2
    finally:
        gateway.stop()
        fake_upstream.reset()
