"""Observability end to end: the seed request reaches Langfuse, a webhook and a JSONL file and
is counted in /metrics, summed over two gunicorn workers; dead or slow sinks change nothing."""
import json
import socket
import statistics
import threading
import time

import pytest
import requests

from tests.observability.obs_receiver import Receiver

from .helpers import MASTER_KEY, UPSTREAM_KEY, metric, model, start_gateway, wait_for

POEM = [{"role": "user", "content": "this is a test request, write a short poem"}]
SEED_METADATA = {
    "generation_name": "ishaan-generation-openai-client",
    "generation_id": "openai-client-gen-id22",
    "trace_id": "openai-client-trace-id22",
    "trace_user_id": "openai-client-user-id2",
}
LANGFUSE_OK = b'{"successes": [], "errors": []}'
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
LANGFUSE_SECRET = "sk-lf-e2e-secret"
HOOK_SECRET = "hook-e2e-secret"


def callbacks_config(fake_base, hook_url, jsonl_path, extra_models=()):
    return {
        "model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake_base,
                             api_key=UPSTREAM_KEY),
                       # A host not known to honour stream_options: its streams are estimated.
                       model("no-stream-usage", "groq/gpt-3.5-turbo", api_base=fake_base,
                             api_key=UPSTREAM_KEY, input_cost_per_token=1e-6,
                             output_cost_per_token=2e-6), *extra_models],
        "litellm_settings": {"num_retries": 0, "success_callback": ["langfuse", "webhook",
                                                                    "jsonl"],
                             "failure_callback": ["langfuse", "webhook", "jsonl"]},
        "general_settings": {"master_key": MASTER_KEY, "access_log": "off",
                             "webhook": {"url": hook_url, "headers": {"X-Hook": HOOK_SECRET}},
                             "jsonl": {"path": str(jsonl_path), "max_mb": 10},
                             "callback_queue": {"flush_interval": 0.1}},
    }


@pytest.fixture(scope="module")
def receivers():
    langfuse, hook = Receiver(status=207, body=LANGFUSE_OK), Receiver()
    yield langfuse, hook
    langfuse.close()
    hook.close()


@pytest.fixture(scope="module")
def obs_gateway(tmp_path_factory, fake_upstream, receivers):
    langfuse, hook = receivers
    workdir = tmp_path_factory.mktemp("gw-obs")
    extra = [model("counted", "openai/gpt-3.5-turbo", api_base=fake_upstream.base,
                   api_key=UPSTREAM_KEY)]
    config = callbacks_config(fake_upstream.base, hook.url + "/hook", workdir / "events.jsonl",
                              extra)
    env = {"LANGFUSE_PUBLIC_KEY": "pk-lf-e2e", "LANGFUSE_SECRET_KEY": LANGFUSE_SECRET,
           "LANGFUSE_HOST": langfuse.url}
    gw = start_gateway(workdir, config, env=env, extra_args=("--workers", "2"))
    gw.jsonl = workdir / "events.jsonl"
    yield gw
    gw.stop()


def jsonl_events(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def langfuse_events(receiver):
    return [e for body in receiver.bodies() for e in body.get("batch", [])]




def test_the_seed_request_is_traced_logged_posted_and_counted(obs_gateway, receivers, fake):
    langfuse, hook = receivers
    with obs_gateway.client(api_key=MASTER_KEY, base_url=obs_gateway.url) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-3.5-turbo", messages=POEM, extra_body={"metadata": SEED_METADATA})
    response = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert raw.headers["x-switchboard-provider"] == "openai"
    assert raw.headers["x-switchboard-model-id"]
    assert raw.headers["x-switchboard-attempted-retries"] == "0"
    assert float(raw.headers["x-switchboard-response-time-ms"]) > 0
    usage = response.usage
    assert float(raw.headers["x-switchboard-response-cost"]) == pytest.approx(
        usage.prompt_tokens * 5e-7 + usage.completion_tokens * 1.5e-6)

    def mine():
        found = [e for e in langfuse_events(langfuse)
                 if e["body"].get("id") == SEED_METADATA["trace_id"]
                 or e["body"].get("traceId") == SEED_METADATA["trace_id"]]
        return found if len(found) >= 2 else None
    events = wait_for(mine, 10)
    assert events, langfuse.bodies()
    [trace] = [e for e in events if e["type"] == "trace-create"]
    [generation] = [e for e in events if e["type"] == "generation-create"]
    assert trace["body"]["id"] == "openai-client-trace-id22"
    assert trace["body"]["userId"] == "openai-client-user-id2"
    assert trace["body"]["name"] == "ishaan-generation-openai-client"
    gen = generation["body"]
    assert gen["id"] == "openai-client-gen-id22"
    assert gen["name"] == "ishaan-generation-openai-client"
    assert gen["traceId"] == "openai-client-trace-id22"
    assert gen["model"] == "gpt-3.5-turbo"
    assert gen["input"] == POEM
    assert gen["output"]["content"] == response.choices[0].message.content
    assert gen["usageDetails"] == {"input": usage.prompt_tokens,
                                   "output": usage.completion_tokens,
                                   "total": usage.total_tokens}
    assert gen["costDetails"]["total"] == pytest.approx(
        float(raw.headers["x-switchboard-response-cost"]))

    hooks = wait_for(lambda: [b for b in hook.bodies() if b.get("request_id") == request_id])
    assert len(hooks) == 1 and hooks[0]["metadata"] == SEED_METADATA
    lines = wait_for(lambda: [e for e in jsonl_events(obs_gateway.jsonl)
                              if e["request_id"] == request_id])
    assert len(lines) == 1 and lines[0]["cost"] == hooks[0]["cost"] > 0

    text = requests.get(obs_gateway.url + "/metrics", timeout=5).text
    assert metric(text, "switchboard_requests_total", model="gpt-3.5-turbo",
                  status="200") >= 1
    assert metric(text, "switchboard_cost_usd_total", model="gpt-3.5-turbo") > 0


def streamed_event(obs_gateway, hook, model_name):
    with obs_gateway.client(api_key=MASTER_KEY) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=model_name, messages=POEM, stream=True)
        request_id = raw.headers["x-request-id"]
        chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [event] = wait_for(lambda: [b for b in hook.bodies() if b.get("request_id") == request_id])
    return event, chunks, text


def test_a_stream_is_costed_from_the_providers_usage_without_showing_it(obs_gateway, receivers,
                                                                        fake):
    _, hook = receivers
    event, chunks, text = streamed_event(obs_gateway, hook, "gpt-3.5-turbo")
    assert event["stream"] is True and event["ttft_ms"] is not None
    assert event["response"]["content"] == text
    # The gateway asked OpenAI for usage itself; the client, which did not, sees no usage chunk.
    assert fake.requests("/chat/completions")[-1]["body"]["stream_options"] == \
        {"include_usage": True}
    assert all(c.choices for c in chunks)
    assert event["usage_estimated"] is False and event["usage"]["completion_tokens"] > 0
    assert event["cost"] > 0


def test_a_stream_without_usage_is_estimated_and_costed(obs_gateway, receivers, fake):
    _, hook = receivers
    event, _, text = streamed_event(obs_gateway, hook, "no-stream-usage")
    assert "stream_options" not in fake.requests("/chat/completions")[-1]["body"]
    assert event["response"]["content"] == text
    assert event["usage_estimated"] is True and event["usage"]["completion_tokens"] > 0
    assert event["cost"] > 0


def test_metrics_add_up_over_both_workers(obs_gateway, receivers, fake):
    sent, errors = 24, []

    def worker(count):
        for _ in range(count):
            # A new connection each time, so both workers take requests.
            resp = requests.post(obs_gateway.url + "/v1/chat/completions", timeout=10,
                                 headers={**AUTH, "Connection": "close"},
                                 json={"model": "counted", "messages": POEM})
            if resp.status_code != 200:
                errors.append(resp.text)
    threads = [threading.Thread(target=worker, args=(sent // 6,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    totals = set()
    for _ in range(8):
        text = requests.get(obs_gateway.url + "/metrics", timeout=5,
                            headers={"Connection": "close"}).text
        totals.add(metric(text, "switchboard_requests_total", model="counted", status="200"))
        assert metric(text, "switchboard_request_duration_seconds_count", model="counted") \
            == sent
        assert metric(text, "switchboard_tokens_total", model="counted", direction="input") > 0
        assert metric(text, "switchboard_in_flight_requests") == 0
    assert totals == {sent}  # every scrape, whichever worker answers, sums both


def test_no_secret_reaches_the_sinks(obs_gateway, receivers, fake):
    langfuse, hook = receivers
    with obs_gateway.client(api_key=MASTER_KEY) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-3.5-turbo", messages=POEM,
            extra_body={"api_key": "sk-client-e2e-secret", "metadata": {"trace_id": "s"}})
    request_id = raw.headers["x-request-id"]
    wait_for(lambda: [e for e in jsonl_events(obs_gateway.jsonl)
                      if e["request_id"] == request_id])
    wait_for(lambda: [b for b in hook.bodies() if b.get("request_id") == request_id])
    dumped = b"".join(p[3] for r in receivers for p in r.posts) + obs_gateway.jsonl.read_bytes()
    for secret in (MASTER_KEY, UPSTREAM_KEY, LANGFUSE_SECRET, HOOK_SECRET,
                   "sk-client-e2e-secret"):
        assert secret.encode() not in dumped, secret


@pytest.fixture(scope="module")
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def latencies(gateway, count=30):
    out = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            resp = session.post(gateway.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                                json={"model": "gpt-3.5-turbo", "messages": POEM})
            out.append(time.perf_counter() - started)
            assert resp.status_code == 200, resp.text
    return out


def test_dead_and_slow_sinks_leave_api_latency_unchanged(tmp_path, fake, closed_port):
    slow = Receiver(delay=3.0)
    gateways = []
    try:
        plain = callbacks_config(fake.base, "", tmp_path / "a.jsonl")
        plain["litellm_settings"].update(success_callback=[], failure_callback=[])
        gateways.append(start_gateway(tmp_path / "plain", plain))
        broken = callbacks_config(fake.base, slow.url + "/hook", tmp_path / "b.jsonl")
        env = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk",
               "LANGFUSE_HOST": f"http://127.0.0.1:{closed_port}"}
        gateways.append(start_gateway(tmp_path / "broken", broken, env=env))
        latencies(gateways[0], 5)
        latencies(gateways[1], 5)  # warm both
        base, hurt = latencies(gateways[0]), latencies(gateways[1])
        assert statistics.median(hurt) < statistics.median(base) + 0.02, (base, hurt)
        assert max(hurt) < 0.5, hurt
    finally:
        for gw in gateways:
            gw.stop()
        slow.close()


def test_queued_events_are_flushed_on_graceful_shutdown(tmp_path, fake):
    hook = Receiver()
    try:
        config = callbacks_config(fake.base, hook.url + "/hook", tmp_path / "c.jsonl")
        config["litellm_settings"].update(success_callback=["webhook", "jsonl"],
                                          failure_callback=[])
        # Nothing is sent before shutdown: a long interval and a big batch.
        config["general_settings"]["callback_queue"] = {"flush_interval": 600,
                                                        "batch_size": 1000}
        gw = start_gateway(tmp_path / "gw", config)
        try:
            ids = []
            for _ in range(3):
                resp = requests.post(gw.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                                     json={"model": "gpt-3.5-turbo", "messages": POEM})
                ids.append(resp.headers["x-request-id"])
            time.sleep(0.3)
            assert hook.bodies() == [] and not (tmp_path / "c.jsonl").exists()
        finally:
            started = time.monotonic()
            gw.stop()
            stopped = time.monotonic() - started
        assert sorted(b["request_id"] for b in hook.bodies()) == sorted(ids), \
            (stopped, gw.stderr())
        assert sorted(e["request_id"] for e in jsonl_events(tmp_path / "c.jsonl")) == sorted(ids)
    finally:
        hook.close()
