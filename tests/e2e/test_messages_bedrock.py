"""/v1/messages to Bedrock end to end: the official anthropic SDK -> the real gateway -> the fake
Bedrock runtime (SigV4 checked). Claude deployments get the client's Messages body natively
through InvokeModel / InvokeModelWithResponseStream and CountTokens; Nova, Llama and
``converse/`` deployments are translated through Converse."""
import base64
import json
import uuid

import anthropic
import pytest
import requests

from .helpers import MASTER_KEY, fake_fixtures, model, start_gateway

KEY_ID, SECRET = "AKIDFAKEEXAMPLE", "fake/secret/key+EXAMPLE"
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CLAUDE_PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
HELLO = [{"role": "user", "content": "hello there"}]
CACHED_SYSTEM = [{"type": "text", "text": "You are a CLI assistant.",
                  "cache_control": {"type": "ephemeral"}},
                 {"type": "text", "text": "Be brief."}]
CODE_TOOL = {"name": "Read", "description": "Read a file",
             "input_schema": {"$schema": "http://json-schema.org/draft-07/schema#",
                              "type": "object", "additionalProperties": False,
                              "properties": {"query": {"type": "string"}}}}
VERSION = {"anthropic_version": "bedrock-2023-05-31"}


fake_bedrock, fake = fake_fixtures("fake_bedrock.py", "fake_bedrock")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fake_bedrock):
    aws = {"api_base": fake_bedrock.url, "aws_region_name": "eu-west-1",
           "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}
    config = {
        "model_list": [
            model("claude", "bedrock/" + CLAUDE, input_cost_per_token=3e-6,
                  output_cost_per_token=15e-6, **aws),
            model("claude-us", "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0", **aws),
            model("claude-converse", "bedrock/converse/" + CLAUDE, **aws),
            model("nova", "bedrock/amazon.nova-lite-v1:0", **aws),
            model("llama", "bedrock/meta.llama3-1-8b-instruct-v1:0", **aws),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-messages-bedrock"), config)
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    with anthropic.Anthropic(api_key=MASTER_KEY, base_url=gateway.url, max_retries=0,
                             timeout=30) as c:
        yield c


# -- Claude: the body as it is --------------------------------------------------------------------

def test_text_with_cached_system_blocks_sent_unchanged(gateway, client, fake):
    body = {"max_tokens": 2048, "system": CACHED_SYSTEM, "metadata": {"user_id": "u-42"},
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "hello there", "cache_control": {"type": "ephemeral"}}]}]}
    extra = {"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    rid = "bedrock-native-" + uuid.uuid4().hex
    message = client.messages.create(
        model="claude", **body, extra_body=extra,
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07",
                       "X-Request-Id": rid})

    assert message.content[0].text == "echo: hello there" and message.stop_reason == "end_turn"
    assert message.id.startswith("msg_bdrk_") and message.model == "claude-3-5-sonnet-20240620"
    [sent] = fake.requests()
    assert sent["path"] == CLAUDE_PATH + "/invoke" and sent["auth_error"] is None
    assert "/eu-west-1/bedrock/aws4_request" in sent["headers"]["authorization"]
    assert sent["body"] == {**VERSION, **body, **extra, "anthropic_beta": [
        "interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]}
    assert "anthropic-beta" not in sent["headers"]
    record = gateway.log_record(rid)  # usage and spend recorded as for any call
    assert record["provider"] == "bedrock" and record["usage"]["completion_tokens"] == 3
    assert record["usage"]["prompt_tokens"] == message.usage.input_tokens
    assert record["cost"] == pytest.approx(message.usage.input_tokens * 3e-6 + 3 * 15e-6)


def test_tools_round_trip(client, fake):
    first = client.messages.create(model="claude", max_tokens=100, tools=[CODE_TOOL],
                                   messages=HELLO)
    [use] = first.content
    assert first.stop_reason == "tool_use" and use.type == "tool_use" and use.name == "Read"
    assert use.input == {"query": "hello there"}

    second = client.messages.create(model="claude", max_tokens=100, tools=[CODE_TOOL], messages=[
        *HELLO, {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "sunny"}]}])
    assert second.content[0].text == "tool said: sunny"
    bodies = [r["body"] for r in fake.requests(CLAUDE_PATH + "/invoke")]
    assert bodies[0]["tools"] == [CODE_TOOL]  # $schema and additionalProperties kept
    assert bodies[1]["messages"][1]["content"][0]["id"] == use.id


def test_stream_text(gateway, client, fake):
    rid = "bedrock-stream-" + uuid.uuid4().hex
    with client.messages.stream(model="claude", max_tokens=64, system=CACHED_SYSTEM,
                                messages=[{"role": "user", "content": "stream please"}],
                                extra_headers={"X-Request-Id": rid}) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "echo: stream please" and final.content[0].text == text
    assert final.stop_reason == "end_turn" and final.id.startswith("msg_bdrk_")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 3)
    [sent] = fake.requests()
    assert sent["path"] == CLAUDE_PATH + "/invoke-with-response-stream"
    assert sent["body"] == {**VERSION, "max_tokens": 64, "system": CACHED_SYSTEM,
                            "messages": [{"role": "user", "content": "stream please"}]}
    record = gateway.log_record(rid)
    assert record["stream"] is True and record["provider"] == "bedrock"
    assert (record["usage"]["prompt_tokens"], record["usage"]["completion_tokens"]) == (9, 3)
    assert record["cost"] > 0


def test_stream_tool_use_input_json(client, fake):
    with client.messages.stream(model="claude", max_tokens=100, tools=[CODE_TOOL],
                                messages=HELLO) as stream:
        pieces = [event.partial_json for event in stream if event.type == "input_json"]
        final = stream.get_final_message()

    [use] = final.content
    assert final.stop_reason == "tool_use" and use.type == "tool_use"
    assert use.input == {"query": "hello there"} and json.loads("".join(pieces)) == use.input
    assert len(pieces) > 2


def test_claude_code_shaped_stream_is_anthropics_own(gateway, fake):
    body = {"model": "claude", "max_tokens": 32000, "stream": True, "system": CACHED_SYSTEM,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "read it", "cache_control": {"type": "ephemeral"}}]}],
            "tools": [CODE_TOOL], "metadata": {"user_id": "user_abc_account_x_session_y"},
            "temperature": 1}
    headers = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01",
               "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"}
    response = requests.post(gateway.url + "/v1/messages?beta=true", json=body,
                             headers=headers, timeout=30)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = response.text.splitlines()
    names = [line[7:] for line in lines if line.startswith("event: ")]
    datas = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert [d["type"] for d in datas] == names  # every event named after its type
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "input_json_delta" in response.text
    assert "amazon-bedrock-invocationMetrics" not in response.text
    [sent] = fake.requests()
    expected = {k: v for k, v in body.items() if k not in ("model", "stream")}
    assert sent["body"] == {**VERSION, **expected, "anthropic_beta": [
        "claude-code-20250219", "interleaved-thinking-2025-05-14"]}


def test_server_tools_go_to_claude_on_bedrock(client, fake):
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    client.messages.create(model="claude", max_tokens=5, messages=HELLO, tools=[search],
                           tool_choice={"type": "none"})
    assert fake.requests()[0]["body"]["tools"] == [search]
    with pytest.raises(anthropic.BadRequestError):  # Nova would need a translation
        client.messages.create(model="nova", max_tokens=5, messages=HELLO, tools=[search])


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,error_type,exc_class,kind", [
    (400, "ValidationException", anthropic.BadRequestError, "invalid_request_error"),
    (403, "AccessDeniedException", anthropic.PermissionDeniedError, "permission_error"),
    (403, "UnrecognizedClientException", anthropic.AuthenticationError, "authentication_error"),
    (404, "ResourceNotFoundException", anthropic.NotFoundError, "not_found_error"),
    (429, "ThrottlingException", anthropic.RateLimitError, "rate_limit_error"),
    (500, "InternalServerException", anthropic.InternalServerError, "api_error"),
    (503, "ServiceUnavailableException", anthropic.OverloadedError, "overloaded_error"),
])
def test_upstream_errors_raise_sdk_classes(client, fake, status, error_type, exc_class, kind):
    fake.script({"status": status, "error_type": error_type, "message": f"scripted {status}",
                 "headers": {"Retry-After": "2"} if status == 429 else {}})
    with pytest.raises(exc_class) as caught:
        client.messages.create(model="claude", max_tokens=5, messages=HELLO)
    assert caught.value.body["error"]["type"] == kind
    assert f"scripted {status}" in caught.value.message
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "2"


def test_bedrock_refusing_the_body_is_a_bad_request(client, fake):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude", max_tokens=5, messages=HELLO,
                               extra_body={"not_a_claude_field": 1})
    assert "extraneous key [not_a_claude_field]" in caught.value.message


def test_stream_errors(client, fake):
    fake.script({"status": 429, "error_type": "ThrottlingException", "message": "slow down"})
    with pytest.raises(anthropic.RateLimitError):  # before the first byte: an HTTP error
        with client.messages.stream(model="claude", max_tokens=5, messages=HELLO) as stream:
            stream.get_final_message()

    start = [{"chunk": {"type": "message_start", "message": {
                 "id": "msg_bdrk_1", "type": "message", "role": "assistant", "model": "claude",
                 "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {"input_tokens": 2, "output_tokens": 1}}}},
             {"chunk": {"type": "content_block_start", "index": 0,
                        "content_block": {"type": "text", "text": ""}}},
             {"chunk": {"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": "partial"}}}]
    for ending, kind in [
            ([{"exception": "throttlingException", "payload": {"message": "Too many tokens"}}],
             "rate_limit_error"),
            ([{"exception": "modelStreamErrorException",
               "payload": {"message": "Model failed", "originalStatusCode": 500}}], "api_error"),
            ([], "api_error")]:  # no message_stop
        fake.script({"events": start + ending})
        seen = []
        with pytest.raises(anthropic.APIStatusError) as caught:  # after it: an error event
            with client.messages.stream(model="claude", max_tokens=5, messages=HELLO) as stream:
                for text in stream.text_stream:
                    seen.append(text)
        assert seen == ["partial"] and caught.value.body["error"]["type"] == kind


# -- count_tokens ---------------------------------------------------------------------------------

def counted_body(request):
    """The InvokeModel body a CountTokens request carried (base64 on the wire)."""
    return json.loads(base64.b64decode(request["body"]["input"]["invokeModel"]["body"]))


def test_count_tokens(client, fake):
    counted = client.messages.count_tokens(model="claude", system="be brief", messages=HELLO,
                                           extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert counted.input_tokens == 4  # the fake's own count (one per word)
    [sent] = fake.requests()
    assert sent["path"] == CLAUDE_PATH + "/count-tokens" and sent["auth_error"] is None
    assert counted_body(sent) == {**VERSION, "system": "be brief", "messages": HELLO,
                                  "max_tokens": 1024, "anthropic_beta": ["context-1m-2025-08-07"]}

    # An inference profile is counted on its foundation model (CountTokens refuses profiles).
    profile = client.messages.count_tokens(model="claude-us", messages=HELLO)
    assert profile.input_tokens == 2
    assert fake.requests()[-1]["path"] == \
        "/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens"


def test_count_tokens_estimated_where_bedrock_cannot_count(client, fake):
    fake.script({"status": 400, "error_type": "ValidationException",
                 "message": "The provided model doesn't support counting tokens."})
    estimate = client.messages.count_tokens(model="claude", messages=HELLO, tools=[CODE_TOOL])
    assert estimate.input_tokens > 4 and len(fake.requests()) == 1
    for name in ("nova", "claude-converse"):  # translated deployments: estimated, not asked
        assert client.messages.count_tokens(model=name, messages=HELLO).input_tokens > 0
    assert len(fake.requests()) == 1
    fake.script({"status": 429, "error_type": "ThrottlingException", "message": "slow down"})
    with pytest.raises(anthropic.RateLimitError):
        client.messages.count_tokens(model="claude", messages=HELLO)


# -- other models: translated through Converse ------------------------------------------------

@pytest.mark.parametrize("name,path", [
    ("nova", "/model/amazon.nova-lite-v1%3A0/converse"),
    ("llama", "/model/meta.llama3-1-8b-instruct-v1%3A0/converse"),
    ("claude-converse", CLAUDE_PATH + "/converse")])
def test_other_models_are_translated(client, fake, name, path):
    message = client.messages.create(model=name, max_tokens=64, system="Be brief.",
                                     messages=[{"role": "user", "content": "hello nova"}])
    assert message.content[0].text == "echo: hello nova" and message.stop_reason == "end_turn"
    assert message.id.startswith("msg_") and not message.id.startswith("msg_bdrk_")
    with client.messages.stream(model=name, max_tokens=64, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
    assert text == "echo: hello there"
    first, second = fake.requests()
    assert first["path"] == path and second["path"] == path + "-stream"
    assert first["body"]["messages"] == [{"role": "user", "content": [{"text": "hello nova"}]}]
    assert first["body"]["system"] == [{"text": "Be brief."}]
