"""Messages <-> chat translation over real-shaped bodies (a Claude Code request, OpenAI answers)."""
import json

import pytest

from app.messages.translate import anthropic_only, to_chat, to_message, usage
from conftest import fixture_json

CLAUDE_CODE = "messages/claude_code_request.json"


def test_claude_code_request_to_chat():
    body = fixture_json(CLAUDE_CODE)
    before = json.dumps(body, sort_keys=True)
    chat = to_chat(body)

    assert json.dumps(body, sort_keys=True) == before  # the client's body is left untouched
    assert chat["model"] == body["model"] and chat["max_tokens"] == 32000
    assert chat["stream"] is True and chat["temperature"] == 1
    assert chat["user"] == "user_2f1e0c_account_9a8b_session_5d4c"
    assert "reasoning_effort" not in chat and "thinking" not in chat  # see to_chat
    system, user, assistant, tool, user2 = chat["messages"]
    assert system == {"role": "system", "content":
                      "You are Claude Code, Anthropic's official CLI for Claude.\n\n"
                      "You are an interactive CLI tool that helps users with software "
                      "engineering tasks."}
    assert user == {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>Context.</system-reminder>"},
        {"type": "text", "text": "what is in setup.cfg?"}]}
    assert assistant == {"role": "assistant", "content": "Let me read it.", "tool_calls": [
        {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
         "function": {"name": "Read", "arguments": '{"file_path":"/repo/setup.cfg"}'}}]}
    assert tool == {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9",
                    "content": "     1\t[metadata]\n     2\tname = switchboard"}
    assert user2 == {"role": "user", "content": "and summarise it"}
    read = chat["tools"][0]
    assert read["type"] == "function" and read["function"]["name"] == "Read"
    assert read["function"]["parameters"] == body["tools"][0]["input_schema"]
    assert chat["tool_choice"] == "auto"
    assert anthropic_only(body) is None


@pytest.mark.parametrize("choice, expected", [
    ({"type": "auto"}, {"tool_choice": "auto"}),
    ({"type": "any"}, {"tool_choice": "required"}),
    ({"type": "none"}, {"tool_choice": "none"}),
    ({"type": "tool", "name": "Read", "disable_parallel_tool_use": True},
     {"tool_choice": {"type": "function", "function": {"name": "Read"}},
      "parallel_tool_calls": False}),
])
def test_tool_choice(choice, expected):
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
            "tool_choice": choice}
    chat = to_chat(body)
    assert {k: chat[k] for k in expected} == expected


def test_images_errors_and_sampling():
    body = {"model": "m", "max_tokens": 5, "stop_sequences": ["\n\nHuman:"], "top_p": 0.9,
            "top_k": 40, "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
                {"type": "tool_result", "tool_use_id": "t1", "content": "boom",
                 "is_error": True}]}]}
    chat = to_chat(body)
    tool, user = chat["messages"]
    assert tool == {"role": "tool", "tool_call_id": "t1", "content": "Error: boom"}
    assert user["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}]
    assert chat["stop"] == ["\n\nHuman:"] and chat["top_p"] == 0.9
    assert "top_k" not in chat and "reasoning_effort" not in chat


def test_what_only_anthropic_can_serve():
    base = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    search = {"type": "web_search_20250305", "name": "web_search"}
    assert "web_search_20250305" in anthropic_only({**base, "tools": [search]})
    assert "tools" not in to_chat({**base, "tools": [search]})
    files = {**base, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "file", "file_id": "file_1"}}]}]}
    assert "'file' source" in anthropic_only(files)


def test_completion_to_message():
    completion = fixture_json("openai/chat_completion.json")
    message = to_message(completion, "gpt")

    assert message["id"].startswith("msg_") and message["type"] == "message"
    assert message["role"] == "assistant" and message["model"] == "gpt-3.5-turbo-0125"
    assert message["content"] == [{"type": "text", "text": "Roses are red."}]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    assert message["usage"] == {"input_tokens": 12, "output_tokens": 5,
                                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def test_tool_calls_reasoning_and_length_to_message():
    completion = {"model": "m", "choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "reasoning_content": "thinking...",
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "Read", "arguments": '{"file_path": "/a"}'}},
                       {"id": "call_2", "type": "function",
                        "function": {"name": "Bash", "arguments": "not json"}}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 9,
                  "prompt_tokens_details": {"cached_tokens": 60}}}
    message = to_message(completion, "m")
    thinking, read, bash = message["content"]
    assert thinking == {"type": "thinking", "thinking": "thinking...", "signature": ""}
    assert read == {"type": "tool_use", "id": "call_1", "name": "Read",
                    "input": {"file_path": "/a"}}
    assert bash["input"] == {"arguments": "not json"}
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 40
    assert message["usage"]["cache_read_input_tokens"] == 60
    length = {"choices": [{"finish_reason": "length", "message": {"content": "abc"}}]}
    assert to_message(length, "m")["stop_reason"] == "max_tokens"
    assert usage(None) == {"input_tokens": 0, "output_tokens": 0,
                           "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
