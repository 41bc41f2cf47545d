"""to_chat: Responses request bodies -> the chat.completions form the pipeline routes."""
import pytest

from app.errors import InvalidRequestError
from app.responses.to_chat import to_chat

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather",
           "parameters": {"type": "object"}, "strict": True}


def test_string_input_instructions_and_params():
    chat = to_chat({"model": "m", "input": "hi", "instructions": "be brief", "temperature": 0.1,
                    "top_p": 0.5, "max_output_tokens": 20, "metadata": {"a": "b"},
                    "reasoning": {"effort": "low"}, "store": True})
    assert chat == {"model": "m", "temperature": 0.1, "top_p": 0.5, "metadata": {"a": "b"},
                    "messages": [{"role": "system", "content": "be brief"},
                                 {"role": "user", "content": "hi"}],
                    "max_tokens": 20, "reasoning_effort": "low"}


def test_stop_is_kept_for_chat_completions():
    assert to_chat({"model": "m", "input": "hi", "stop": ["END"]})["stop"] == ["END"]


def test_items_become_messages_with_tool_calls_grouped():
    history = [{"type": "message", "role": "user", "content": "weather in two cities"},
               {"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "checking"}]},
               {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
               {"type": "function_call", "call_id": "c2", "name": "w", "arguments": "{}"}]
    body = {"model": "m", "input": [
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "rain"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"role": "developer", "content": "answer shortly"},
        {"role": "user", "content": [{"type": "input_text", "text": "and?"},
                                     {"type": "input_image", "image_url": "https://x/y.png",
                                      "detail": "low"}]}]}
    messages = to_chat(body, history)["messages"]
    assert messages == [
        {"role": "user", "content": "weather in two cities"},
        {"role": "assistant", "content": "checking", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rain"},
        {"role": "system", "content": "answer shortly"},
        {"role": "user", "content": [
            {"type": "text", "text": "and?"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]}]


def test_function_call_without_text_opens_an_assistant_turn():
    messages = to_chat({"model": "m", "input": [
        {"role": "user", "content": "x"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]})["messages"]
    assert messages[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}


def test_tools_tool_choice_and_text_format():
    chat = to_chat({"model": "m", "input": "x", "stream": True,
                    "tools": [WEATHER, {"type": "web_search"}],
                    "tool_choice": {"type": "function", "name": "get_weather"},
                    "text": {"format": {"type": "json_schema", "name": "a", "strict": True,
                                        "schema": {"type": "object"}}}})
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather", "parameters": {"type": "object"},
        "strict": True}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "a", "schema": {"type": "object"}, "strict": True}}
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    assert to_chat({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}
                   )["response_format"] == {"type": "json_object"}
    assert "response_format" not in to_chat({"model": "m", "input": "x",
                                             "text": {"format": {"type": "text"}}})


@pytest.mark.parametrize("item", [
    {"type": "item_reference", "id": "msg_1"},
    {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]},
    {"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]},
])
def test_openai_only_inputs_are_refused(item):
    with pytest.raises(InvalidRequestError):
        to_chat({"model": "m", "input": [item]})
