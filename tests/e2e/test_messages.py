"""/v1/messages end to end: the official anthropic SDK -> the real gateway -> the fake Anthropic,
OpenAI and Gemini APIs (Anthropic natively, the others translated through the chat pipeline)."""
import json

import anthropic
import pytest
import requests

from .helpers import MASTER_KEY, model, run_fake, start_gateway

HELLO = [{"role": "user", "content": "hello there"}]
CACHED_SYSTEM = [{"type": "text", "text": "You are a CLI assistant.",
                  "cache_control": {"type": "ephemeral"}},
                 {"type": "text", "text": "Be brief."}]
# Claude Code's tool schemas are JSON Schema documents with $schema and additionalProperties.
CODE_TOOL = {"name": "Read", "description": "Read a file",
             "input_schema": {"$schema": "http://json-schema.org/draft-07/schema#",
                              "type": "object", "additionalProperties": False,
                              "properties": {"location": {"type": "string"},
                                             "query": {"type": "string"}}}}
RATE_LIMITED = {"status": 429, "headers": {"Retry-After": "7"},
                "json": {"error": {"message": "slow down", "type": "rate_limit_error",
                                   "code": "rate_limit_exceeded", "param": None}}}


@pytest.fixture(scope="module")
def fake_claude():
    with run_fake("fake_anthropic.py") as upstream:
        yield upstream


@pytest.fixture(scope="module")
def fake_gem():
    with run_fake("fake_gemini.py") as upstream:
        yield upstream


@pytest.fixture
def fakes(fake_claude, fake_upstream, fake_gem):
    """The three fakes with nothing recorded or queued: (anthropic, openai, gemini)."""
    for fake in (fake_claude, fake_upstream, fake_gem):
        fake.reset()
    return fake_claude, fake_upstream, fake_gem


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fake_claude, fake_upstream, fake_gem):
    config = {
        "model_list": [
            model("claude", "anthropic/claude-sonnet-4-5", api_base=fake_claude.url,
                  api_key="sk-ant-e2e-0000000000"),
            model("gpt", "openai/gpt-4o-mini", api_base=fake_upstream.base,
                  api_key="sk-upstream"),
            model("gem", "gemini/gemini-2.5-flash", api_base=fake_gem.url, api_key="gm-key"),
            model("demo", "mock/demo"),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-messages"), config)
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    with anthropic.Anthropic(api_key=MASTER_KEY, base_url=gateway.url, max_retries=0,
                             timeout=30) as c:
        yield c


def sent(fake, path):
    """The bodies the fake received on ``path``."""
    return [r["body"] for r in fake.requests(path)]


# -- Anthropic deployments: the body as it is -----------------------------------------------------

def test_native_body_relayed_unchanged_but_model(client, fakes):
    claude, _, _ = fakes
    body = {"max_tokens": 64, "system": CACHED_SYSTEM, "messages": HELLO,
            "metadata": {"user_id": "u-42"}}
    sampling = {"top_k": 5, "temperature": 0.3}  # not create() arguments in this SDK version
    message = client.messages.create(model="claude", **body, extra_body=sampling,
                                     extra_headers={"anthropic-beta": "tools-2024-05-16"})
    body.update(sampling)

    assert message.content[0].text == "echo: hello there"
    assert message.id.startswith("msg_") and message.stop_reason == "end_turn"
    [upstream] = claude.requests("/v1/messages")
    assert upstream["body"] == {"model": "claude-sonnet-4-5", **body}
    assert upstream["headers"]["anthropic-beta"] == "tools-2024-05-16"
    assert upstream["headers"]["x-api-key"] == "sk-ant-e2e-0000000000"
    assert message.usage.input_tokens == 9 and message.usage.output_tokens == 3


def test_native_tools_round_trip(client, fakes):
    tools = [CODE_TOOL]
    first = client.messages.create(model="claude", max_tokens=100, tools=tools, messages=HELLO)
    [use] = first.content
    assert first.stop_reason == "tool_use" and use.type == "tool_use"
    assert use.input == {"query": "hello there"}

    second = client.messages.create(model="claude", max_tokens=100, tools=tools, messages=[
        *HELLO, {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "sunny"}]}])
    assert second.content[0].text == "tool said: sunny"


def test_native_stream_relayed(client, fakes):
    with client.messages.stream(model="claude", max_tokens=100, tools=[CODE_TOOL],
                                messages=HELLO) as stream:
        message = stream.get_final_message()

    assert message.stop_reason == "tool_use"
    assert message.content[0].input == {"query": "hello there"}
    assert message.usage.output_tokens > 0 and message.usage.input_tokens == 2


def test_claude_code_shaped_request(gateway, fakes):
    claude, _, gem = fakes
    body = {"model": "claude", "max_tokens": 32000, "stream": True, "system": CACHED_SYSTEM,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "read it", "cache_control": {"type": "ephemeral"}}]}],
            "tools": [CODE_TOOL], "metadata": {"user_id": "user_abc_account_x_session_y"},
            "temperature": 1}
    headers = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01",
               "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"}
    for name in ("claude", "gem"):
        response = requests.post(gateway.url + "/v1/messages?beta=true",
                                 json={**body, "model": name}, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        names = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
        datas = [json.loads(line[6:]) for line in response.text.splitlines()
                 if line.startswith("data: ")]
        assert [d["type"] for d in datas] == names  # every event names its type
        assert names[0] == "message_start" and names[-1] == "message_stop"
        assert "content_block_delta" in names
    [native] = claude.requests("/v1/messages")
    assert native["body"] == {**body, "model": "claude-sonnet-4-5"}
    assert native["headers"]["anthropic-beta"] == headers["anthropic-beta"]
    [translated] = sent(gem, ":streamGenerateContent")
    declared = translated["tools"][0]["functionDeclarations"][0]["parameters"]
    assert "$schema" not in declared and "additionalProperties" not in declared


# -- every other provider: translated ------------------------------------------------------------

def test_translated_text_with_system_blocks(client, fakes):
    _, openai_fake, _ = fakes
    message = client.messages.create(model="gpt", max_tokens=50, system=CACHED_SYSTEM,
                                     messages=HELLO, stop_sequences=["END"],
                                     metadata={"user_id": "u-7"})

    assert message.content[0].text == "echo: hello there"
    assert message.id.startswith("msg_") and message.stop_reason == "end_turn"
    [body] = sent(openai_fake, "/chat/completions")
    assert body["messages"] == [
        {"role": "system", "content": "You are a CLI assistant.\n\nBe brief."}, *HELLO]
    assert body["max_tokens"] == 50 and body["stop"] == ["END"] and body["user"] == "u-7"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (9, 3)


def test_translated_multi_turn(client, fakes):
    _, openai_fake, _ = fakes
    message = client.messages.create(model="gpt", max_tokens=50, messages=[
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]}])

    assert message.content[0].text == "echo: second"
    [body] = sent(openai_fake, "/chat/completions")
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_translated_tools_round_trip_on_gemini(client, fakes):
    _, _, gem = fakes
    first = client.messages.create(model="gem", max_tokens=100, tools=[CODE_TOOL],
                                   messages=HELLO)
    [use] = first.content
    assert first.stop_reason == "tool_use" and use.name == "Read"
    assert use.input == {"location": "Paris"}

    second = client.messages.create(model="gem", max_tokens=100, tools=[CODE_TOOL], messages=[
        *HELLO, {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": [{"type": "text", "text": "sunny"}]}]}])
    assert second.content[0].text.startswith("results: ")
    assert "sunny" in second.content[0].text
    assert len(gem.requests()) == 2


def test_translated_stream(client, fakes):
    with client.messages.stream(model="gpt", max_tokens=50, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()

    assert text == "echo: hello there"
    assert message.content[0].text == text and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (2, 3)


def test_translated_stream_tool_call(client, fakes):
    _, openai_fake, _ = fakes
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "Read", "arguments": ""}}
    openai_fake.script({"stream_events": [
        _chunk({"role": "assistant", "content": "Let me look."}),
        _chunk({"tool_calls": [call]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"query":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "x"}'}}]}),
        _chunk({}, "tool_calls")], "done": True})
    with client.messages.stream(model="gpt", max_tokens=50, tools=[CODE_TOOL],
                                messages=HELLO) as stream:
        message = stream.get_final_message()

    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Let me look."
    assert message.content[1].id == "call_1" and message.content[1].input == {"query": "x"}
    assert message.stop_reason == "tool_use"


def _chunk(delta, finish=None):
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                       "model": "gpt-4o-mini", "choices": [
                           {"index": 0, "delta": delta, "finish_reason": finish}]})


# -- errors, in Anthropic's shape with the SDK's classes -------------------------------------------

def test_auth_errors(gateway, fakes):
    with anthropic.Anthropic(api_key="wrong", base_url=gateway.url, max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            bad.messages.create(model="claude", max_tokens=5, messages=HELLO)
    assert caught.value.body["error"]["type"] == "authentication_error"
    with anthropic.Anthropic(auth_token=MASTER_KEY, base_url=gateway.url, max_retries=0) as ok:
        assert ok.messages.create(model="gpt", max_tokens=5, messages=HELLO).content
    assert not fakes[0].requests()


def test_request_errors(client, gateway, fakes):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="nope", max_tokens=5, messages=HELLO)
    assert "nope" in caught.value.message
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="gpt", max_tokens=5,
                               messages=[{"role": "system", "content": "x"}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    response = requests.post(gateway.url + "/v1/messages", data=b"{not json",
                             headers={"x-api-key": MASTER_KEY,
                                      "content-type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert not any(f.requests() for f in fakes)


def test_upstream_errors(client, fakes):
    claude, openai_fake, _ = fakes
    openai_fake.script(RATE_LIMITED)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="gpt", max_tokens=5, messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "7"
    claude.script({"status": 529, "json": {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}}})
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model="claude", max_tokens=5, messages=HELLO)
    openai_fake.script({"status": 500, "json": {"error": {"message": "boom"}}})
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model="gpt", max_tokens=5, messages=HELLO)
    assert caught.value.body["error"]["type"] == "api_error"


def test_stream_errors(client, fakes):
    _, openai_fake, _ = fakes
    openai_fake.script(RATE_LIMITED)  # before the first byte: an HTTP error
    with pytest.raises(anthropic.RateLimitError):
        with client.messages.stream(model="gpt", max_tokens=5, messages=HELLO) as stream:
            stream.get_final_message()
    openai_fake.script({"stream_events": [_chunk({"content": "partial"})], "abort": True})
    with pytest.raises(anthropic.APIStatusError) as caught:  # after it: an error event
        with client.messages.stream(model="gpt", max_tokens=5, messages=HELLO) as stream:
            stream.get_final_message()
    assert caught.value.body["error"]["type"] == "api_error"


def test_server_tools_need_an_anthropic_model(client, fakes):
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="gpt", max_tokens=5, messages=HELLO, tools=[search])
    assert "web_search_20250305" in caught.value.message
    client.messages.create(model="claude", max_tokens=5, messages=HELLO, tools=[search],
                           tool_choice={"type": "none"})
    assert sent(fakes[0], "/v1/messages")[0]["tools"] == [search]


# -- count_tokens ---------------------------------------------------------------------------------

def test_count_tokens(client, fakes):
    claude, openai_fake, _ = fakes
    native = client.messages.count_tokens(model="claude", system="be brief", messages=HELLO)
    assert native.input_tokens == 4  # the fake's own count (one per word)
    [body] = sent(claude, "/count_tokens")
    assert body == {"model": "claude-sonnet-4-5", "system": "be brief", "messages": HELLO}
    assert not sent(claude, "/v1/messages")

    estimate = client.messages.count_tokens(model="gpt", messages=HELLO, tools=[CODE_TOOL])
    assert estimate.input_tokens > 4
    assert not openai_fake.requests()
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="nope", messages=HELLO)
