"""The Messages body schema: Anthropic's documented shapes pass, bad ones are 400 naming the path."""
import pytest

from app import errors
from app.messages.schemas import validate_count, validate_messages
from conftest import fixture_json

HELLO = [{"role": "user", "content": "hi"}]


def test_real_shaped_bodies_pass():
    validate_messages(fixture_json("messages/claude_code_request.json"))
    validate_messages({"model": "m", "max_tokens": 1, "messages": HELLO,
                       "system": "be brief", "top_k": 3, "stop_sequences": ["x"],
                       "metadata": {"user_id": None}})
    validate_count({"model": "m", "messages": HELLO})


def test_newer_block_and_tool_types_pass_unchecked():
    validate_messages({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "search_result", "source": "s", "title": "t", "content": []}]}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]})


@pytest.mark.parametrize("body, param", [
    ({"model": "m", "messages": HELLO}, "max_tokens"),
    ({"max_tokens": 5, "messages": HELLO}, "model"),
    ({"model": "m", "max_tokens": 0, "messages": HELLO}, "max_tokens"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
     "messages[0].role"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]},
     "messages[0].content"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "tool_use", "id": "t", "name": "x"}]}]}, "messages[0].content[0].input"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "data": "x"}}]}]},
     "messages[0].content[0].source.media_type"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "tools": [{"name": "x"}]},
     "tools[0].input_schema"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "tool_choice": {"type": "tool"}},
     "tool_choice.name"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "temperature": 2}, "temperature"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "stream": "yes"}, "stream"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "system": [{"type": "text"}]},
     "system[0].text"),
])
def test_bad_bodies_are_400(body, param):
    with pytest.raises(errors.InvalidRequestError) as caught:
        validate_messages(body)
    assert caught.value.param == param
