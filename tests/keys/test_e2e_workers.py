"""One instance, two workers, no Redis: the host-local counters are exact across workers."""
import concurrent.futures
import time

import openai
import pytest
import requests

from tests.e2e.helpers import (MASTER_KEY, UPSTREAM_KEY, clear_of_minute_edge, model,
                                start_gateway, wait_for)

MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(fake_upstream, tmp_path_factory):
    work = tmp_path_factory.mktemp("keys-workers")
    config = {"model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo",
                                   api_base=fake_upstream.base, api_key=UPSTREAM_KEY,
                                   input_cost_per_token=0.001, output_cost_per_token=0.002)],
              "general_settings": {"master_key": MASTER_KEY, "access_log": "off"}}
    gw = start_gateway(work, config, env={"SWITCHBOARD_DATA_DIR": str(work / "data")},
                       extra_args=("--workers", "2"))
    yield gw
    gw.stop()


def generate(gw, **fields):
    r = requests.post(gw.url + "/key/generate", json=fields, headers=MASTER, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def post_chat(gw, key, **extra):
    return requests.post(gw.url + "/v1/chat/completions", headers={"x-api-key": key}, json={
        "model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hello there"}],
        **extra}, timeout=30)


def test_rpm_exact_across_workers_without_redis(gateway, fake):
    key = generate(gateway, rpm_limit=10)["key"]
    clear_of_minute_edge()
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: post_chat(gateway, key).status_code, range(30)))
    assert codes.count(200) == 10 and codes.count(429) == 20, codes


def test_parallel_slot_is_held_by_a_stream_and_freed_by_a_hang_up(gateway, fake):
    key = generate(gateway, max_parallel_requests=1)["key"]
    fake.script({"stream_delay_ms": 300})
    client = openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "a b c d e f"}],
        stream=True)
    next(iter(stream))
    refused = post_chat(gateway, key, stream=True)
    assert refused.status_code == 429 and refused.headers["Content-Type"].startswith(
        "application/json")  # a refused stream never starts its SSE
    stream.close()  # the client hangs up mid-stream
    client.close()
    assert wait_for(lambda: post_chat(gateway, key).status_code == 200, timeout=5)


def test_budget_window_resets(gateway, fake):
    made = generate(gateway, max_budget=0.001, budget_duration="5s")
    t0 = time.monotonic()
    assert post_chat(gateway, made["key"]).status_code == 200
    assert post_chat(gateway, made["key"]).status_code == 400
    while time.monotonic() - t0 < 4.4:
        assert post_chat(gateway, made["key"]).status_code == 400
        time.sleep(0.5)
    assert wait_for(lambda: post_chat(gateway, made["key"]).status_code == 200, timeout=3.5)
    info = requests.get(gateway.url + "/key/info", params={"key": made["key"]}, headers=MASTER,
                        timeout=5).json()["info"]
    assert 0 < info["spend"] < 0.01  # the current window's spend only
