"""validate_request: real-shaped Responses bodies pass, bad fields are named by JSON path."""
import pytest

from app.errors import InvalidRequestError
from app.responses.schemas import builtin_tools, validate_request

PNG = "data:image/png;base64,iVBORw0KGgo="
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
           "strict": True}

GOOD = [
    {"model": "gpt-4.1", "input": "Tell me a story"},
    {"model": "gpt-4.1", "instructions": "be brief", "input": [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": [{"type": "input_text", "text": "what is this?"},
                                     {"type": "input_image", "image_url": PNG,
                                      "detail": "low"}]}],
     "temperature": 0.2, "top_p": 0.9, "max_output_tokens": 100, "store": False,
     "metadata": {"k": "v"}, "reasoning": {"effort": "low"}},
    {"model": "m", "input": [
        {"type": "message", "role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
     "tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_weather"},
     "previous_response_id": "resp_1", "stream": True},
    {"model": "m", "input": "x", "text": {"format": {
        "type": "json_schema", "name": "answer", "strict": True,
        "schema": {"type": "object", "properties": {}}}}},
    {"model": "m", "input": "x", "tools": [{"type": "web_search"}], "tool_choice": "required"},
]


@pytest.mark.parametrize("body", GOOD)
def test_documented_bodies_pass(body):
    validate_request(body)


@pytest.mark.parametrize("body, param", [
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": [{"role": "bot", "content": "x"}]}, "input[0].role"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
     "input[0].content[0].text"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
     "input[0].content[0].image_url"),
    ({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]},
     "input[0].call_id"),
    ({"model": "m", "input": [{"type": "teleport"}]}, "input[0].type"),
    ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": "m", "input": "x", "tools": [{"name": "f"}]}, "tools[0].type"),
    ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
    ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}},
     "text.format.name"),
    ({"model": "m", "input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
    ({"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata.k"),
    ({"model": "m", "input": "x", "store": "yes"}, "store"),
])
def test_bad_fields_are_named(body, param):
    with pytest.raises(InvalidRequestError) as err:
        validate_request(body)
    assert err.value.param == param and err.value.status == 400


def test_builtin_tools_are_listed():
    assert builtin_tools({"tools": [WEATHER, {"type": "web_search"}]}) == ["web_search"]
    assert builtin_tools({}) == []
