"""Shared provider plumbing: relaying JSON untouched, and scrubbing keys from upstream text."""
import json

import pytest

from app import errors
from app.overrides import Overrides
from app.providers.base import Call, RawJSON, relay_json, scrub
from conftest import fixture_bytes


def call():
    return Call("embeddings", {}, Overrides())


def test_relay_keeps_the_bytes_and_reads_usage():
    c = call()
    body = fixture_bytes("openai/embeddings.json")
    out = relay_json(body, "openai", c)
    assert isinstance(out, RawJSON) and out == body.strip()
    assert c.usage == {"prompt_tokens": 8, "total_tokens": 8}
    assert json.loads(out.with_field("_response_ms", 1.5)) == {**json.loads(body),
                                                               "_response_ms": 1.5}


@pytest.mark.parametrize("body", [b"<html>busy</html>", b"", b"[1, 2]", b'{"a": 1'])
def test_relay_refuses_what_is_not_a_json_object(body):
    with pytest.raises(errors.BadGatewayError):
        relay_json(body, "openai", call())


def test_with_field_on_an_empty_object():
    assert json.loads(RawJSON(b"{ }").with_field("x", 1)) == {"x": 1}


def test_scrub_removes_long_keys_only():
    c = Call("chat", {}, Overrides(api_key="sk-client-secret-123"))
    assert scrub(c, "bad key sk-client-secret-123!") == "bad key ***!"
    assert scrub(c, "other sk-abcdefghijkl") == "other sk-abc***"  # anything key-shaped
    assert scrub(Call("chat", {}, Overrides(api_key="k")), "keep kk") == "keep kk"
