"""The mock provider: deterministic replies, streams, embeddings, usage and injected errors."""
import base64
import json
import struct

import pytest

from app import errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY
from app.providers.base import Call
from app.providers.mock import count_tokens

MOCK = REGISTRY["mock"]


def call_for(body, endpoint="chat", overrides=Overrides(), **params):
    dep = load_config({"model_list": [{"model_name": "demo", "litellm_params":
                                       {"model": "mock/demo", **params}}]}).model_list[0]
    return Call(endpoint, body, overrides).bind((dep, MOCK, MOCK.prepare(dep)), None, (1, 1))


def chat(text, **kw):
    return {"model": "demo", "messages": [{"role": "system", "content": "be kind"},
                                          {"role": "user", "content": text}], **kw}


def test_echo_with_usage():
    call = call_for(chat("hello, world"))
    body = MOCK.complete(call)
    assert body["choices"][0]["message"]["content"] == "hello, world"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert count_tokens("hello, world") == 3


def test_fixed_reply_from_deployment_and_request():
    assert MOCK.complete(call_for(chat("x"), mock_response="fixed"))["choices"][0]["message"][
        "content"] == "fixed"
    call = call_for(chat("x"), overrides=Overrides(mock_response="per request"),
                    mock_response="fixed")
    assert MOCK.complete(call)["choices"][0]["message"]["content"] == "per request"


def test_stream_chunks_join_to_the_reply():
    call = call_for(chat("one two three four five six seven", stream=True,
                         stream_options={"include_usage": True}), )
    call.stream = True
    chunks = [json.loads(c) for c in MOCK.open_stream(call)]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "one two three four five six seven"
    assert len(chunks) >= 5
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7


def test_embeddings_deterministic_float_and_base64():
    body = {"model": "demo", "input": ["a", "b"], "dimensions": 8}
    first = MOCK.complete(call_for(dict(body), "embeddings"))
    again = MOCK.complete(call_for(dict(body), "embeddings"))
    assert first["data"][0]["embedding"] == again["data"][0]["embedding"]
    assert first["data"][0]["embedding"] != first["data"][1]["embedding"]
    vec = first["data"][0]["embedding"]
    assert len(vec) == 8 and abs(sum(v * v for v in vec) - 1) < 1e-9
    b64 = MOCK.complete(call_for({**body, "encoding_format": "base64"}, "embeddings"))
    decoded = struct.unpack("<8f", base64.b64decode(b64["data"][0]["embedding"]))
    assert decoded == pytest.approx(vec, rel=1e-6)


@pytest.mark.parametrize("name,cls", [("litellm.RateLimitError", errors.RateLimitError),
                                      ("litellm.InternalServerError", errors.InternalServerError),
                                      ("litellm.ContextWindowExceededError",
                                       errors.ContextLengthExceededError)])
def test_injected_errors(name, cls):
    with pytest.raises(cls):
        MOCK.complete(call_for(chat("x"), mock_response=name))


def test_error_rate():
    with pytest.raises(errors.ServiceUnavailableError):
        MOCK.complete(call_for(chat("x"), mock_error_rate=1.0, mock_error_status=503))
