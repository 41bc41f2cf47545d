"""Callbacks through the app: events per request, headers, masking, secrets, slow sinks."""
import json
import time

import pytest

from app import create_app, observability

from obs_receiver import Receiver

LANGFUSE_OK = b'{"successes": [], "errors": []}'
SECRETS = ("sk-master-obs", "sk-client-secret-99", "sk-config-secret-77", "lf-secret-55",
           "hook-secret-33")
SEED_META = {"generation_name": "seed-gen", "generation_id": "gen-1", "trace_id": "trace-1",
             "trace_user_id": "user-1"}
HELLO = [{"role": "user", "content": "this is a test request"}]


@pytest.fixture
def receiver():
    r = Receiver(status=207, body=LANGFUSE_OK)
    yield r
    r.close()


def config(receiver, tmp_path, success=("webhook", "jsonl", "langfuse"),
           failure=("webhook", "jsonl", "langfuse"), **lit):
    return {
        "model_list": [
            {"model_name": "demo", "litellm_params": {"model": "mock/demo",
                                                      "api_key": "sk-config-secret-77"}},
            {"model_name": "priced", "litellm_params": {"model": "mock/priced"},
             "model_info": {"id": "priced-1", "input_cost_per_token": 1e-6,
                            "output_cost_per_token": 2e-6}},
        ],
        "litellm_settings": {"success_callback": list(success),
                             "failure_callback": list(failure), **lit},
        "general_settings": {
            "access_log": "off", "master_key": "sk-master-obs",
            "webhook": {"url": receiver.url + "/hook", "headers": {"X-Token": "hook-secret-33"}},
            "jsonl": str(tmp_path / "events.jsonl"),
            "langfuse": {"public_key": "pk-lf", "secret_key": "lf-secret-55",
                         "host": receiver.url},
            "callback_queue": {"flush_interval": 0.05}},
    }


@pytest.fixture
def make(receiver, tmp_path):
    apps = []

    def build(**kwargs):
        app = create_app(config(receiver, tmp_path, **kwargs))
        apps.append(app)
        return app, app.test_client()
    yield build
    for app in apps:
        observability.shutdown(app)


AUTH = {"Authorization": "Bearer sk-master-obs"}


def chat(client, model="demo", **extra):
    body = {"model": model, "messages": HELLO, "metadata": dict(SEED_META),
            "api_key": "sk-client-secret-99", **extra}
    resp = client.post("/v1/chat/completions", json=body, headers=AUTH)
    resp.get_data()  # a stream ends (and is recorded) once it is read
    resp.close()
    return resp


def outputs(app, receiver, tmp_path):
    """Flush, then (webhook events, langfuse batches, jsonl events, all raw bytes)."""
    observability.shutdown(app)
    hooks = [p[2] for p in receiver.posts if p[0] == "/hook"]
    langfuse = [p[2] for p in receiver.posts if p[0] == "/api/public/ingestion"]
    path = tmp_path / "events.jsonl"
    text = path.read_text() if path.exists() else ""
    lines = [json.loads(x) for x in text.splitlines()]
    raw = b"".join(p[3] for p in receiver.posts) + text.encode()
    return hooks, langfuse, lines, raw


def test_one_request_reaches_every_sink(make, receiver, tmp_path):
    app, client = make()
    resp = chat(client, temperature=0.3)
    assert resp.status_code == 200
    hooks, langfuse, lines, _ = outputs(app, receiver, tmp_path)
    assert len(hooks) == 1 and len(lines) == 1
    assert hooks[0] == lines[0]
    ev = hooks[0]
    assert ev["request_id"] == resp.headers["x-request-id"] and ev["type"] == "success"
    assert ev["model"] == "demo" and ev["provider"] == "mock" and ev["status"] == 200
    assert ev["metadata"] == SEED_META
    assert ev["messages"] == HELLO
    assert ev["response"]["content"] == resp.get_json()["choices"][0]["message"]["content"]
    assert ev["usage"] == resp.get_json()["usage"]
    assert ev["model_parameters"] == {"temperature": 0.3}
    [batch] = langfuse
    trace, gen = batch["batch"]
    assert trace["body"]["id"] == "trace-1" and trace["body"]["userId"] == "user-1"
    assert gen["body"]["id"] == "gen-1" and gen["body"]["name"] == "seed-gen"
    assert gen["body"]["traceId"] == "trace-1"


def test_debug_headers_and_cost(make, receiver, tmp_path):
    app, client = make(success=(), failure=())
    resp = chat(client, model="priced")
    usage = resp.get_json()["usage"]
    expected = usage["prompt_tokens"] * 1e-6 + usage["completion_tokens"] * 2e-6
    assert float(resp.headers["x-switchboard-response-cost"]) == pytest.approx(expected)
    assert resp.headers["x-switchboard-model-id"] == "priced-1"
    assert resp.headers["x-switchboard-provider"] == "mock"
    assert resp.headers["x-switchboard-attempted-retries"] == "0"
    assert float(resp.headers["x-switchboard-response-time-ms"]) >= 0
    ours = sum(len(k) + len(v) + 4 for k, v in resp.headers.items() if k.startswith("x-"))
    assert ours < 400


def test_stream_event_has_time_to_first_token_and_the_reply(make, receiver, tmp_path):
    app, client = make()
    resp = chat(client, stream=True)
    text = resp.get_data(as_text=True)
    assert text.endswith("data: [DONE]\n\n")
    assert resp.headers["x-switchboard-provider"] == "mock"
    hooks, langfuse, _, _ = outputs(app, receiver, tmp_path)
    [ev] = hooks
    assert ev["stream"] is True and ev["ttft_ms"] is not None
    assert ev["completion_start_time"] >= ev["start_time"]
    assert ev["response"]["content"] == "this is a test request"
    assert ev["usage"]["completion_tokens"] > 0
    gen = langfuse[0]["batch"][1]["body"]
    assert gen["completionStartTime"] and gen["output"]["content"] == "this is a test request"


def test_failures_go_to_failure_callbacks_only(make, receiver, tmp_path):
    app, client = make(success=("webhook",), failure=("jsonl",))
    resp = chat(client, mock_response="litellm.RateLimitError")
    assert resp.status_code == 429
    hooks, _, lines, _ = outputs(app, receiver, tmp_path)
    assert hooks == []
    [ev] = lines
    assert ev["type"] == "failure" and ev["status"] == 429
    assert ev["error"]["type"] == "rate_limit_error" and ev["response"] is None


def test_secrets_never_reach_any_sink(make, receiver, tmp_path):
    app, client = make(callbacks=["stdout"])
    chat(client)
    chat(client, stream=True)
    chat(client, mock_response="litellm.AuthenticationError")
    client.post("/v1/chat/completions", json={"model": "nope", "messages": HELLO,
                                              "api_key": "sk-client-secret-99"}, headers=AUTH)
    _, _, lines, raw = outputs(app, receiver, tmp_path)
    assert len(lines) == 4
    for secret in SECRETS:
        assert secret.encode() not in raw, secret


def test_secret_looking_metadata_is_redacted(make, receiver, tmp_path):
    app, client = make()
    chat(client, metadata={"trace_id": "t", "api_key": "sk-client-secret-99",
                           "langfuse_secret_key": "lf-secret-55"})
    _, _, lines, raw = outputs(app, receiver, tmp_path)
    assert lines[0]["metadata"]["api_key"] == "[redacted]"
    for secret in SECRETS:
        assert secret.encode() not in raw


@pytest.mark.parametrize("setting,meta", [
    ({"turn_off_message_logging": True}, {}),
    ({}, {"mask_input": True, "mask_output": True})])
def test_prompts_and_replies_can_be_kept_out(make, receiver, tmp_path, setting, meta):
    app, client = make(**setting)
    chat(client, metadata={**SEED_META, **meta})
    chat(client, stream=True, metadata={**SEED_META, **meta})
    hooks, langfuse, lines, raw = outputs(app, receiver, tmp_path)
    assert len(hooks) == 2 and len(lines) == 2 and langfuse
    assert b"this is a test request" not in raw
    assert all(ev["messages"] == "redacted-by-switchboard" for ev in hooks)


def test_mask_output_alone_keeps_the_prompt(make, receiver, tmp_path):
    app, client = make()
    chat(client, metadata={"mask_output": True})
    hooks, _, _, _ = outputs(app, receiver, tmp_path)
    assert hooks[0]["messages"] == HELLO and hooks[0]["response"] == "redacted-by-switchboard"


def test_a_slow_sink_does_not_slow_requests(make, receiver, tmp_path):
    receiver.delay = 1.0
    app, client = make(success=("webhook",), failure=())
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        assert chat(client).status_code == 200
        timings.append(time.perf_counter() - started)
    assert max(timings) < 0.25, timings
    observability.shutdown(app, timeout=0.1)


def test_a_dead_sink_does_not_fail_requests(receiver, tmp_path):
    import socket
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        conf = config(receiver, tmp_path, success=("webhook", "langfuse"), failure=())
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        conf["general_settings"]["webhook"]["url"] = dead + "/hook"
        conf["general_settings"]["langfuse"]["host"] = dead
        app = create_app(conf)
        client = app.test_client()
        for _ in range(5):
            assert chat(client).status_code == 200
        obs = observability.of(app)
        observability.shutdown(app, timeout=2)
    assert all(d.delivered == 0 and d.failed >= 1 for d in obs.success)
    assert receiver.posts == []


def test_unknown_callbacks_are_warned_about_and_prometheus_is_accepted(make, caplog):
    app, _ = make(success=("prometheus", "datadog"), failure=())
    assert "datadog" in caplog.text and "prometheus" not in caplog.text
    assert observability.of(app).success == []


def test_retries_are_counted_in_the_header_and_the_event(make, receiver, tmp_path):
    app, client = make(success=(), failure=("jsonl",))
    resp = chat(client, mock_response="litellm.RateLimitError", num_retries=1)
    assert resp.status_code == 429
    assert resp.headers["x-switchboard-attempted-retries"] == "1"
    _, _, lines, _ = outputs(app, receiver, tmp_path)
    assert lines[0]["attempted_retries"] == 1
