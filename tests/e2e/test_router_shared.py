"""The router end to end: real gateways, fake providers, the machine's real Redis.

Two gateway instances on one Redis share cooldowns, in-flight counts and rpm limits; a
deployment killed under load costs no client request; an unreachable or silent Redis keeps
the gateway serving from its own state.
"""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .helpers import UPSTREAM_KEY, model, run_fake, start_gateway, wait_for

HELLO = [{"role": "user", "content": "hi"}]
RATE_LIMITED = {"status": 429, "json": {"error": {"message": "slow down", "type": "requests",
                                                  "param": None, "code": "rate_limit_exceeded"}}}


def pair(fake_a, fake_b, rpm=None, **router_settings):
    """Group "pair": deployment "a" on fake_a (weight 1000: picked first), "b" on fake_b."""
    rpm = rpm or {}
    return {"model_list": [
        {**model("pair", "openai/gpt-a", api_base=fake_a.base, api_key=UPSTREAM_KEY, weight=1000,
                 rpm=rpm.get("a")), "model_info": {"id": "a"}},
        {**model("pair", "openai/gpt-b", api_base=fake_b.base, api_key=UPSTREAM_KEY, weight=1,
                 rpm=rpm.get("b")), "model_info": {"id": "b"}}],
        "router_settings": router_settings,
        "litellm_settings": {"request_timeout": 10},
        "general_settings": {"access_log": "off"}}


def chat(gateway, timeout=10, **extra):
    """POST one chat; the response."""
    return requests.post(gateway.url + "/v1/chat/completions", timeout=timeout,
                         json={"model": "pair", "messages": HELLO, **extra})


def status_of(gateway):
    """/router/status as {deployment id: row}."""
    groups = requests.get(gateway.url + "/router/status", timeout=5).json()["groups"]
    return {d["id"]: d for g in groups for d in g["deployments"]}


@pytest.fixture(scope="module")
def fakes():
    with run_fake() as fake_a, run_fake() as fake_b:
        yield fake_a, fake_b


@pytest.fixture
def two(tmp_path, fakes, redis_clean):
    """Two gateways (one worker each) sharing the session's Redis db."""
    started = []

    def start(rpm=None, **router_settings):
        for fake in fakes:
            fake.reset()
        config = pair(*fakes, rpm=rpm, redis_url=redis_clean, **router_settings)
        started.extend(start_gateway(tmp_path / f"gw{i}", config) for i in range(2))
        return started

    yield start
    for gateway in started:
        gateway.stop()


def test_cooldown_seen_by_the_other_instance_and_lifted(two, fakes):
    fake_a, fake_b = fakes
    gw1, gw2 = two(num_retries=1, cooldown_time=2)
    fake_a.script(RATE_LIMITED)
    assert chat(gw1).status_code == 200  # a: 429 -> cooled down, retried on b
    assert len(fake_a.requests()) == 1 and len(fake_b.requests()) == 1
    cooled = time.monotonic()
    row = status_of(gw2)["a"]
    assert row["cooldown_reason"] == "rate_limit" and not row["healthy"]
    for _ in range(5):  # instance 2 never tried a, yet skips it
        assert chat(gw2).status_code == 200
    assert len(fake_a.requests()) == 1 and len(fake_b.requests()) == 6
    assert time.monotonic() - cooled < 1.5
    # the shared cooldown is written just after the answer that caused it: allow that lag
    time.sleep(max(0.0, 2.5 - (time.monotonic() - cooled)))
    assert chat(gw2).status_code == 200 and chat(gw1).status_code == 200
    assert len(fake_a.requests()) == 3  # both instances use a again


def test_rpm_limit_exact_across_instances_under_concurrency(two, fakes):
    fake_a, fake_b = fakes
    gw1, gw2 = two(routing_strategy="usage-based-routing-v2", rpm={"a": 4, "b": 3})
    if 60 - time.time() % 60 < 8:  # the limit is per UTC minute: stay inside one
        time.sleep(60 - time.time() % 60 + 0.2)
    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: chat((gw1, gw2)[i % 2]), range(24)))
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 7 and codes.count(429) == 17, codes
    assert len(fake_a.requests()) == 4 and len(fake_b.requests()) == 3
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert time.monotonic() - t0 < 10
    rows = status_of(gw2)
    assert (rows["a"]["rpm_used"], rows["a"]["rpm_limit"]) == (4, 4)
    assert (rows["b"]["rpm_used"], rows["b"]["rpm_limit"]) == (3, 3)


def test_least_busy_counts_in_flight_across_instances(two, fakes):
    fake_a, fake_b = fakes
    gw1, gw2 = two(routing_strategy="least-busy")
    fake_a.script({"delay_ms": 1500})
    fake_b.script({"delay_ms": 1500})
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(chat, gw1)
        busy = wait_for(lambda: [i for i, r in status_of(gw2).items() if r["in_flight"]], 1)
        assert len(busy) == 1  # instance 2 sees instance 1's call in flight
        idle = fake_b if busy == ["a"] else fake_a
        idle.reset()  # drop its queued delay
        for _ in range(3):
            assert chat(gw2).status_code == 200
        assert len(idle.requests()) == 3  # all went to the idle deployment
        assert slow.result().status_code == 200
    # released when the call ends (the release is sent within ~50 ms)
    assert wait_for(lambda: all(r["in_flight"] == 0 for r in status_of(gw1).values()), 0.3)


def test_latency_based_prefers_the_faster_deployment(two, fakes):
    fake_a, fake_b = fakes
    gw1, gw2 = two(routing_strategy="latency-based-routing")
    fake_a.script(*[{"delay_ms": 150}] * 60)  # a is slow, b answers at once
    for i in range(10):  # warm-up
        chat((gw1, gw2)[i % 2])
    picked = {gw1.url: [], gw2.url: []}
    for i in range(20):
        gw = (gw1, gw2)[i % 2]
        picked[gw.url].append(chat(gw).headers["x-switchboard-model-id"])
    for ids in picked.values():  # each instance sends at least 80% to the faster one
        assert ids.count("b") >= 8, picked


def test_deployment_killed_under_load_costs_no_request(tmp_path):
    with run_fake() as fake_b:
        doomed = run_fake()
        fake_a = doomed.__enter__()
        config = pair(fake_a, fake_b, num_retries=2)
        config["model_list"][0]["litellm_params"]["weight"] = 1
        gw = start_gateway(tmp_path / "gw", config)
        failures, done, stop = [], [], threading.Event()

        def load():
            with requests.Session() as session:
                while not stop.is_set():
                    try:
                        r = session.post(gw.url + "/v1/chat/completions", timeout=10,
                                         json={"model": "pair", "messages": HELLO})
                        (done if r.status_code == 200 else failures).append(r.status_code)
                    except requests.RequestException as exc:
                        failures.append(repr(exc))

        threads = [threading.Thread(target=load) for _ in range(6)]
        try:
            for t in threads:
                t.start()
            assert wait_for(lambda: len(done) >= 40, 10)
            doomed.__exit__(None, None, None)  # the provider process dies mid-load
            before = len(done)
            assert wait_for(lambda: len(done) >= before + 100, 15)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
            rows = status_of(gw)
            gw.stop()
        assert failures == []
        assert not rows["a"]["healthy"] and rows["a"]["cooldown_reason"] == "unreachable"


@pytest.fixture
def refused_redis():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/5"


@pytest.fixture
def silent_redis():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/5"


@pytest.mark.parametrize("which", ["refused_redis", "silent_redis"])
def test_redis_unreachable_keeps_serving(request, tmp_path, fakes, which):
    fake_a, fake_b = fakes
    fake_a.reset()
    fake_b.reset()
    config = pair(fake_a, fake_b, redis_url=request.getfixturevalue(which), num_retries=1,
                  routing_strategy="least-busy")
    gw = start_gateway(tmp_path / "gw", config)
    try:
        fake_a.script(RATE_LIMITED, RATE_LIMITED)
        fake_b.script(RATE_LIMITED, RATE_LIMITED)
        for _ in range(20):
            t0 = time.monotonic()
            r = chat(gw)
            assert r.status_code in (200, 429) and time.monotonic() - t0 < 2
        rows = status_of(gw)  # cooldowns still work, from the worker's own state
        assert sum(not row["healthy"] for row in rows.values()) == 1
        for path in ("/health/liveliness", "/health/readiness"):
            assert requests.get(gw.url + path, timeout=2).status_code == 200
        assert "serving with local state" in gw.stderr()
    finally:
        gw.stop()
