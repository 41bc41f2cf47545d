"""Anthropic end to end: the openai SDK -> the real gateway -> a fake Anthropic Messages API."""
import json

import openai
import pytest

from .helpers import fake_fixtures, model, start_gateway, wait_for

KEY = "sk-ant-api03-e2e-key-0000"
ENV_KEY = "sk-ant-api03-from-env-1111"
HELLO = [{"role": "user", "content": "hello there"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                   "required": ["query"]}}}


fake_server, fake = fake_fixtures("fake_anthropic.py", "fake_server")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fake_server):
    config = {
        "model_list": [
            model("claude", "anthropic/claude-sonnet-4-5", api_base=fake_server.url,
                  api_key=KEY),
            # A LiteLLM-style bare name, with key and base from the environment.
            model("haiku", "claude-3-5-haiku-20241022"),
            model("claude-bad-key", "anthropic/claude-sonnet-4-5", api_base=fake_server.url,
                  api_key="sk-ant-bad"),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-anthropic"), config,
                       env={"ANTHROPIC_API_KEY": ENV_KEY, "ANTHROPIC_API_BASE": fake_server.url})
    yield gw
    gw.stop()



@pytest.fixture
def client(gateway):
    with gateway.client() as c:
        yield c


def test_chat(client, fake):
    response = client.chat.completions.create(
        model="claude", max_tokens=50, temperature=0.2, user="u-1",
        messages=[{"role": "system", "content": "be brief"}] + HELLO)

    assert response.choices[0].message.content == "echo: hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith("chatcmpl-")
    assert response.usage.prompt_tokens == 4 and response.usage.completion_tokens == 3
    [sent] = fake.requests()
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"] == {"model": "claude-sonnet-4-5", "system": "be brief",
                            "messages": [{"role": "user", "content": "hello there"}],
                            "max_tokens": 50, "temperature": 0.2,
                            "metadata": {"user_id": "u-1"}}


def test_bare_claude_name_uses_environment(client, fake):
    response = client.chat.completions.create(model="haiku", messages=HELLO)

    assert response.choices[0].message.content == "echo: hello there"
    [sent] = fake.requests()
    assert sent["headers"]["x-api-key"] == ENV_KEY
    assert sent["body"]["model"] == "claude-3-5-haiku-20241022"
    assert sent["body"]["max_tokens"] == 8192


def test_max_tokens_maps_to_length(client, fake):
    response = client.chat.completions.create(model="claude", messages=HELLO,
                                              max_completion_tokens=2)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "echo: hello"


def test_tool_round_trip(client, fake):
    first = client.chat.completions.create(model="claude", messages=HELLO, tools=[WEATHER],
                                           tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.id.startswith("toolu_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"query": "hello there"}

    messages = HELLO + [first.choices[0].message.model_dump(exclude_none=True),
                        {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat.completions.create(model="claude", messages=messages, tools=[WEATHER])

    assert second.choices[0].message.content == "tool said: sunny"
    sent = fake.requests()[-1]["body"]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": call.id,
                                                 "content": "sunny"}


def test_stream_text_with_usage(gateway, client, fake):
    chunks = list(client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "a somewhat longer question"}],
        stream=True, stream_options={"include_usage": True}))

    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: a somewhat longer question"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5

    def logged():
        return [r for r in gateway.log_records() if r.get("stream") and r.get("usage")]
    record = wait_for(logged)[-1]  # the access log has the provider's exact numbers
    assert record["provider"] == "anthropic"
    assert record["usage"]["completion_tokens"] == 5


def test_stream_with_tools_is_reassembled_by_the_sdk(client, fake):
    with client.chat.completions.stream(model="claude", messages=HELLO, tools=[WEATHER]) as s:
        for _event in s:
            pass
        final = s.get_final_completion()

    [call] = final.choices[0].message.tool_calls
    assert call.id.startswith("toolu_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"query": "hello there"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_json_schema_response_format(client, fake):
    schema = {"type": "object", "properties": {"echo": {"type": "string"}},
              "required": ["echo"], "additionalProperties": False}
    response = client.chat.completions.create(
        model="claude", messages=HELLO,
        response_format={"type": "json_schema", "json_schema": {"name": "e", "schema": schema}})

    assert json.loads(response.choices[0].message.content) == {"echo": "echo: hello there"}
    assert fake.requests()[0]["body"]["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}}


def test_images(client, fake):
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}]}])

    blocks = fake.requests()[0]["body"]["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "url", "url": "https://img.test/a.png"}
    assert blocks[2]["source"] == {"type": "base64", "media_type": "image/jpeg",
                                   "data": "/9j/4AAQ"}


def test_unsupported_param_is_400_unless_dropped(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="claude", messages=HELLO, seed=3)
    assert info.value.body["param"] == "seed" and not fake.requests()

    response = client.chat.completions.create(model="claude", messages=HELLO, seed=3,
                                              extra_body={"drop_params": True})
    assert response.choices[0].message.content == "echo: hello there"
    assert "seed" not in fake.requests()[0]["body"]


def anthropic_error(type_, message):
    return {"type": "error", "error": {"type": type_, "message": message},
            "request_id": "req_e2e"}


def test_bad_key_is_authentication_error(client, fake):
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="claude-bad-key", messages=HELLO)


@pytest.mark.parametrize("status,type_,message,exc,code", [
    (400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum",
     openai.BadRequestError, "context_length_exceeded"),
    (403, "permission_error", "no access", openai.PermissionDeniedError, None),
    (404, "not_found_error", "model: claude-nope", openai.NotFoundError, None),
    (429, "rate_limit_error", "slow down", openai.RateLimitError, "rate_limit_exceeded"),
    (500, "api_error", "Internal server error", openai.InternalServerError, None),
    (529, "overloaded_error", "Overloaded", openai.InternalServerError, "overloaded_error"),
])
def test_errors_raise_the_right_sdk_exception(client, fake, status, type_, message, exc, code):
    fake.script({"status": status, "json": anthropic_error(type_, message),
                 "headers": {"retry-after": "2"}})
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="claude", messages=HELLO)
    assert info.value.body["message"] == message
    if code:
        assert info.value.body["code"] == code
    if status in (429, 529):
        assert info.value.response.headers["retry-after"] == "2"


def test_error_event_mid_stream(client, fake):
    start = {"type": "message_start", "message": {
        "id": "msg_x", "type": "message", "role": "assistant", "content": [],
        "model": "claude-sonnet-4-5", "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1}}}
    fake.script({"stream_events": [
        start, {"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": "Hel"}},
        anthropic_error("overloaded_error", "Overloaded")]})
    got = []
    with pytest.raises(openai.APIError, match="Overloaded"):
        for chunk in client.chat.completions.create(model="claude", messages=HELLO, stream=True):
            got.append(chunk)
    assert "".join(c.choices[0].delta.content or "" for c in got) == "Hel"


def test_stream_cut_before_message_stop(client, fake):
    fake.script({"stream_events": [
        {"type": "message_start", "message": {"id": "msg_y", "type": "message",
                                              "role": "assistant", "content": [],
                                              "model": "m", "usage": {"input_tokens": 1,
                                                                      "output_tokens": 1}}},
        {"type": "ping"}], "abort": True})
    with pytest.raises(openai.APIError, match="broke the stream"):
        list(client.chat.completions.create(model="claude", messages=HELLO, stream=True))
