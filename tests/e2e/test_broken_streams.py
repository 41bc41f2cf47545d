"""Streams that break upstream end with a final ``data: {"error": {...}}`` event.

Once the gateway has sent 200 and the first chunks it cannot change the status, so the error
travels in the stream; the openai SDK raises ``openai.APIError`` when it meets that event.
"""
import json

import openai
import pytest
import requests

from .helpers import chat_chunk

HELLO = [{"role": "user", "content": "hello"}]


def _events(text):
    """SSE data payloads; every block must be a data line."""
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") for b in blocks), blocks
    return [b[len("data: "):] for b in blocks]


START = [chat_chunk({"role": "assistant", "content": ""}), chat_chunk({"content": "partial "})]
BROKEN = {
    "no [DONE]": {"stream_events": START + [chat_chunk({"content": "answer"})], "done": False},
    "malformed event": {"stream_events": START + ["not json"], "done": True},
    "aborted mid-body": {"stream_events": START, "abort": True},
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_sdk_raises_api_error(client, fake, name):
    fake.script(BROKEN[name])
    received = []
    stream = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True)
    with stream, pytest.raises(openai.APIError) as excinfo:
        for item in stream:
            received.append(item)

    assert excinfo.value.message
    assert any(c.choices and c.choices[0].delta.content == "partial " for c in received)


@pytest.mark.parametrize("name", list(BROKEN))
def test_wire_format_ends_with_error_event(gateway, fake, name):
    fake.script(BROKEN[name])
    body = {"model": "gpt-3.5-turbo", "messages": HELLO, "stream": True}
    with requests.post(gateway.url + "/v1/chat/completions", json=body, timeout=30) as response:
        text = response.text

    assert response.status_code == 200
    assert text.endswith("\n\n")
    events = [e for e in _events(text) if e != "[DONE]"]
    final = json.loads(events[-1])
    assert set(final["error"]) >= {"message", "type", "param", "code"}, final
    assert final["error"]["message"]
    # A provider's broken stream is a gateway error (502), never our internal error.
    assert final["error"]["code"] == "bad_gateway", final
    # Everything before the error is a well-formed chunk.
    assert all(json.loads(e)["object"] == "chat.completion.chunk" for e in events[:-1])


def test_upstream_200_non_sse_body_on_a_stream(client, fake):
    fake.script({"raw": "<html><body>Gateway maintenance</body></html>", "status": 200,
                 "content_type": "text/html"})
    # Either a 502 before the first byte or an error event: both raise APIError in the SDK.
    with pytest.raises(openai.APIError):
        stream = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                                stream=True)
        with stream:
            list(stream)


def test_upstream_200_non_sse_body_wire_format(gateway, fake):
    fake.script({"raw": "<html><body>Gateway maintenance</body></html>", "status": 200,
                 "content_type": "text/html"})
    body = {"model": "gpt-3.5-turbo", "messages": HELLO, "stream": True}
    with requests.post(gateway.url + "/v1/chat/completions", json=body, timeout=30) as response:
        text = response.text

    if response.status_code == 200:
        events = [e for e in _events(text) if e != "[DONE]"]
        assert "error" in json.loads(events[-1])
    else:
        assert response.status_code == 502
        assert response.json()["error"]["message"]


def test_stream_error_event_mid_stream_from_upstream(client, fake):
    # OpenAI itself can send an error object inside a stream; the client must see it.
    error = json.dumps({"error": {"message": "The server had an error", "type": "server_error",
                                  "param": None, "code": None}})
    fake.script({"stream_events": START + [error], "done": True})
    stream = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True)
    with stream, pytest.raises(openai.APIError) as excinfo:
        list(stream)
    assert excinfo.value.message


def test_gateway_is_healthy_after_broken_streams(client, fake):
    chunks = list(client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hello"

