"""from_chat: chat.completion results -> Responses response objects."""
from app.responses.from_chat import chat_usage, from_chat, usage

CHAT_USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
              "prompt_tokens_details": {"cached_tokens": 4},
              "completion_tokens_details": {"reasoning_tokens": 2}}


def completion(message, finish="stop"):
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": CHAT_USAGE}


def test_text_answer():
    body = {"model": "claude", "input": "hi", "instructions": "be brief",
            "metadata": {"a": "b"}, "store": False}
    response = from_chat(body, completion({"role": "assistant", "content": "hello"}), "resp_1")
    assert response["id"] == "resp_1" and response["object"] == "response"
    assert response["status"] == "completed" and response["incomplete_details"] is None
    assert response["model"] == "claude" and response["instructions"] == "be brief"
    assert response["metadata"] == {"a": "b"} and response["store"] is False
    [item] = response["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["id"].startswith("msg_") and item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "hello", "annotations": [],
                                "logprobs": []}]
    assert response["output_text"] == "hello"
    assert response["usage"] == {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4},
                                 "output_tokens": 5,
                                 "output_tokens_details": {"reasoning_tokens": 2},
                                 "total_tokens": 17}


def test_tool_calls_become_function_call_items():
    message = {"role": "assistant", "content": "let me check", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": "{}"}}]}
    response = from_chat({"model": "m", "input": "x"}, completion(message, "tool_calls"))
    kinds = [(i["type"], i.get("call_id")) for i in response["output"]]
    assert kinds == [("message", None), ("function_call", "call_1"), ("function_call", "call_2")]
    assert response["output"][1]["arguments"] == "{\"city\":\"Paris\"}"
    assert response["output"][1]["id"].startswith("fc_")
    assert response["status"] == "completed" and response["output_text"] == "let me check"


def test_length_is_incomplete():
    response = from_chat({"model": "m", "input": "x", "max_output_tokens": 5},
                         completion({"role": "assistant", "content": "cut"}, "length"))
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["max_output_tokens"] == 5


def test_usage_both_ways():
    assert usage(None) is None
    assert chat_usage(usage(CHAT_USAGE)) == {"prompt_tokens": 12, "completion_tokens": 5,
                                             "total_tokens": 17}
