"""Chat completions through the gateway: responses, streams, and what reaches the upstream."""
import json
import threading
import time

import openai
import pytest
import requests

from .helpers import SECTION_KEY, chat_chunk, metric, sse_events, text_of_stream, wait_for

HELLO = [{"role": "user", "content": "hello there"}]
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen"


@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_chat_with_and_without_v1(gateway, fake, suffix):
    with gateway.client(base_url=gateway.url + suffix) as client:
        response = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert response.choices[0].message.content == "echo: hello there"
    assert len(fake.requests("/chat/completions")) == 1


def test_response_ms_and_generated_request_id(client, fake):
    raw = client.chat.completions.with_raw_response.create(model="gpt-3.5-turbo", messages=HELLO)

    body = raw.http_response.json()
    assert isinstance(body["_response_ms"], (int, float))
    assert body["_response_ms"] >= 0
    assert raw.headers["x-request-id"]
    assert raw.parse().choices[0].message.content == "echo: hello there"


def test_client_request_id_is_echoed(client, fake):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=HELLO, extra_headers={"X-Request-Id": "e2e-req-42"})

    assert raw.headers["x-request-id"] == "e2e-req-42"


def test_last_user_message_and_params_reach_upstream(client, fake):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "second"}]}]
    response = client.chat.completions.create(model="gpt-3.5-turbo", messages=messages,
                                              temperature=0.2, max_tokens=20, user="u-1",
                                              stop=["\n\n"])

    assert response.choices[0].message.content == "echo: second"
    [sent] = fake.requests("/chat/completions")
    assert sent["body"]["messages"] == messages
    assert sent["body"]["temperature"] == 0.2
    assert sent["body"]["max_tokens"] == 20
    assert sent["body"]["user"] == "u-1"
    assert sent["body"]["stop"] == ["\n\n"]


def test_gateway_only_fields_are_stripped_unknown_fields_forwarded(client, fake):
    client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, extra_body={
        "metadata": {"trace_id": "t-1"}, "tags": ["team-a"], "api_key": "sk-user-1",
        "organization": "org-x", "timeout": 25, "extra_headers": {"X-Custom": "1"},
        "num_retries": 0, "top_k": 3, "provider_specific": {"a": 1}})

    [sent] = fake.requests("/chat/completions")
    stripped = {"metadata", "tags", "api_key", "api_base", "base_url", "api_version",
                "organization", "timeout", "extra_headers", "num_retries", "mock_response"}
    assert stripped.isdisjoint(sent["body"]), sent["body"]
    assert sent["body"]["top_k"] == 3
    assert sent["body"]["provider_specific"] == {"a": 1}
    assert sent["headers"]["authorization"] == "Bearer sk-user-1"


def test_environment_variables_section_feeds_os_environ_refs(client, fake):
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    [sent] = fake.requests("/chat/completions")
    assert sent["headers"]["authorization"] == f"Bearer {SECTION_KEY}"
    assert sent["body"]["model"] == "gpt-4o-mini"


def test_stream_chunks_and_text(client, fake):
    stream = client.chat.completions.create(model="gpt-3.5-turbo", stream=True,
                                            messages=[{"role": "user", "content": LONG}])
    chunks = list(stream)

    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 3
    assert text_of_stream(chunks) == "echo: " + LONG
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.usage is None for c in chunks)
    [sent] = fake.requests("/chat/completions")
    assert sent["body"]["stream"] is True


def test_stream_include_usage(client, fake):
    stream = client.chat.completions.create(model="gpt-3.5-turbo", stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": LONG}])
    chunks = list(stream)

    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == len(LONG.split())
    assert last.usage.completion_tokens == len(LONG.split()) + 1
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert text_of_stream(chunks) == "echo: " + LONG
    [sent] = fake.requests("/chat/completions")
    assert sent["body"]["stream_options"] == {"include_usage": True}


def test_stream_wire_format(gateway, fake):
    body = {"model": "gpt-3.5-turbo", "messages": HELLO, "stream": True}
    with requests.post(gateway.url + "/v1/chat/completions", json=body, timeout=30) as response:
        text = response.text

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Accel-Buffering"] == "no"
    assert text.endswith("data: [DONE]\n\n")
    blocks = [b for b in text.split("\n\n") if b]
    assert all(b.startswith("data: ") for b in blocks), blocks
    events = sse_events(text)
    assert events[-1] == "[DONE]"
    assert len(events) >= 4


def test_stream_is_not_buffered(client, fake):
    fake.script({"stream_delay_ms": 400})
    started = time.monotonic()
    stream = client.chat.completions.create(model="gpt-3.5-turbo", stream=True,
                                            messages=[{"role": "user", "content": LONG}])
    with stream:
        first = next(iter(stream))
        first_at = time.monotonic() - started
        rest = list(stream)
    total = time.monotonic() - started

    assert first.choices[0].delta.role == "assistant"
    assert total >= 1.6  # five pauses of 0.4 s upstream
    assert first_at < total - 1.0, (first_at, total)
    assert text_of_stream([first, *rest]) == "echo: " + LONG


def test_client_disconnect_mid_stream_keeps_gateway_healthy(gateway, client, fake):
    fake.script({"stream_delay_ms": 300})
    stream = client.chat.completions.create(model="gpt-3.5-turbo", stream=True,
                                            messages=[{"role": "user", "content": LONG}])
    with stream:
        next(iter(stream))
    # The abandoned stream must not wedge the single worker.
    response = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
    assert response.choices[0].message.content == "echo: hello there"


@pytest.mark.parametrize("pause_ms", [150, 3000])
def test_client_disconnect_closes_the_upstream_stream(gateway, client, fake, pause_ms):
    fake.reset()
    fake.script({"stream_delay_ms": pause_ms})
    words = " ".join(f"w{i}" for i in range(100))
    request_id = f"hang-up-{pause_ms}-{time.monotonic_ns()}"
    stream = client.chat.completions.create(model="gpt-3.5-turbo", stream=True,
                                            messages=[{"role": "user", "content": words}],
                                            extra_headers={"X-Request-Id": request_id})
    with stream:
        next(iter(stream))
        assert wait_for(lambda: in_flight(gateway) == 1), in_flight(gateway)
    assert wait_for(lambda: fake.streams()[0]["cut"]), fake.streams()
    record = fake.streams()[0]
    # The gateway hung up on the upstream long before it had sent everything, and at once:
    # while it waited for the provider's next event, not when that event came.
    assert record["total"] > 20 and record["sent"] <= 8, record
    assert record["cut_after_s"] < 1.5, record
    # ... and counted the request as ended (the greenlet serving it is gone), logged as 499.
    assert wait_for(lambda: in_flight(gateway) == 0), in_flight(gateway)
    record = gateway.log_record(request_id)
    assert record["status"] == 499 and record["stream"] is True, record


@pytest.mark.parametrize("stream", [False, True])
def test_client_giving_up_on_a_slow_answer_frees_the_upstream_at_once(gateway, fake, stream):
    # The provider takes 3 s to answer (a long completion, or a slow start of a stream);
    # the client's own timeout gives up after 0.5 s.
    fake.reset()
    fake.script({"delay_ms": 3000})
    request_id = f"give-up-{stream}-{time.monotonic_ns()}"
    with gateway.client(timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=stream,
                                       extra_headers={"X-Request-Id": request_id})
    # The gateway hung up on the provider then, not when the answer came.
    [upstream] = wait_for(lambda: [r for r in fake.requests("/chat/completions")
                                   if "abandoned_after_s" in r])
    assert upstream["abandoned_after_s"] < 1.5, upstream
    record = gateway.log_record(request_id)
    assert record["status"] == 499, record
    assert wait_for(lambda: in_flight(gateway) == 0), in_flight(gateway)
    # The worker serves the next request as usual.
    with gateway.client() as client:
        reply = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
    assert reply.choices[0].message.content == "echo: hello there"


def in_flight(gateway):
    text = requests.get(gateway.url + "/metrics", timeout=5).text
    return metric(text, "switchboard_in_flight_requests")


def test_single_worker_serves_requests_concurrently(gateway, fake):
    fake.script(*[{"delay_ms": 1000}] * 4)
    results, errors = [], []

    def call():
        try:
            with gateway.client() as c:
                results.append(c.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(results) == 4
    assert time.monotonic() - started < 2.5  # gevent: the four upstream waits overlap


def test_empty_messages_content_string_ok(client, fake):
    response = client.chat.completions.create(model="gpt-3.5-turbo",
                                              messages=[{"role": "user", "content": ""}])
    assert response.choices[0].message.content == "echo: "


def test_n_choices_forwarded(client, fake):
    response = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, n=2)

    assert [c.index for c in response.choices] == [0, 1]
    [sent] = fake.requests("/chat/completions")
    assert sent["body"]["n"] == 2



def test_unicode_round_trip(client, fake):
    text = "héllo 世界 🚀 — ok"
    response = client.chat.completions.create(model="gpt-3.5-turbo",
                                              messages=[{"role": "user", "content": text}])
    chunks = list(client.chat.completions.create(
        model="gpt-3.5-turbo", stream=True, messages=[{"role": "user", "content": text}]))

    assert response.choices[0].message.content == "echo: " + text
    assert text_of_stream(chunks) == "echo: " + text
    assert fake.requests("/chat/completions")[0]["body"]["messages"][0]["content"] == text


def test_charset_in_content_type_is_accepted(gateway, fake):
    response = requests.post(gateway.url + "/v1/chat/completions", timeout=30,
                             data=json.dumps({"model": "gpt-3.5-turbo", "messages": HELLO}),
                             headers={"Content-Type": "application/json; charset=utf-8"})

    assert response.status_code == 200, response.text


TOOL_CALL = {"id": "call_abc123", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}


def test_upstream_fields_pass_through_non_stream(client, fake):
    body = {"id": "chatcmpl-tools", "object": "chat.completion", "created": 1700000000,
            "model": "gpt-3.5-turbo-0125", "system_fingerprint": "fp_x",
            "choices": [{"index": 0, "logprobs": None, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": None, "refusal": None,
                                     "tool_calls": [TOOL_CALL]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}
    fake.script({"status": 200, "json": body})
    response = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, tools=[{
        "type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])

    assert response.choices[0].finish_reason == "tool_calls"
    call = response.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_abc123", "get_weather", "{\"city\": \"Paris\"}")
    assert response.usage.total_tokens == 12
    assert fake.requests()[0]["body"]["tools"][0]["function"]["name"] == "get_weather"


def test_upstream_chunks_pass_through_stream(client, fake):
    fake.script({"stream_events": [
        chat_chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, **TOOL_CALL, "function": {"name": "get_weather", "arguments": ""}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
        chat_chunk({}, "tool_calls")], "done": True})
    chunks = list(client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                                 stream=True))

    deltas = [c.choices[0].delta for c in chunks if c.choices]
    arguments = "".join(d.tool_calls[0].function.arguments for d in deltas if d.tool_calls)
    assert arguments == "{\"city\": \"Paris\"}"
    assert deltas[0].tool_calls[0].id == "call_abc123"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
