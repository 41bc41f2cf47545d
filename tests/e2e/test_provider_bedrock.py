"""Bedrock end to end: the real gateway, signing with SigV4, in front of the fake Bedrock runtime.

The fake checks every signature with the AWS algorithm, speaks the binary event-stream framing
for ConverseStream and answers errors the way Bedrock does; the official openai SDK drives it.
"""
import json

import openai
import pytest

from .helpers import fake_fixtures, model, start_gateway

KEY_ID, SECRET = "AKIDFAKEEXAMPLE", "fake/secret/key+EXAMPLE"
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
HELLO = [{"role": "user", "content": "hello there"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string"}},
                   "required": ["city"]}}}


fake_bedrock, fake = fake_fixtures("fake_bedrock.py", "fake_bedrock")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fake_bedrock):
    """A gateway whose models all point at the fake, with several ways to authenticate."""
    base = {"api_base": fake_bedrock.url, "aws_region_name": "eu-west-1"}
    creds = {**base, "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}
    config = {
        "model_list": [
            model("claude", "bedrock/" + CLAUDE, aws_session_token="session-token", **creds),
            model("claude-converse", "bedrock/converse/" + CLAUDE, **base),  # AWS_* environment
            model("claude-api-key", "bedrock/" + CLAUDE, api_key="bedrock-api-key-fake", **base),
            model("claude-unknown-key", "bedrock/" + CLAUDE,
                  **{**creds, "aws_access_key_id": "AKIDNOBODYKNOWS"}),
            model("claude-wrong-secret", "bedrock/" + CLAUDE,
                  **{**creds, "aws_secret_access_key": "not-the-secret"}),
            model("titan", "bedrock/amazon.titan-embed-text-v2:0", **creds),
            model("cohere-embed", "bedrock/cohere.embed-multilingual-v3", **creds),
        ],
        "litellm_settings": {"num_retries": 0},
    }
    workdir = tmp_path_factory.mktemp("gw-bedrock")
    env = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(workdir / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-credentials")}
    gw = start_gateway(workdir, config, env=env)
    yield gw
    gw.stop()



@pytest.fixture
def client(gateway):
    """An openai client on the gateway."""
    with gateway.client() as c:
        yield c


def test_chat_is_signed_and_translated(client, fake):
    response = client.chat.completions.create(
        model="claude", messages=[{"role": "system", "content": "be brief"}, *HELLO],
        max_tokens=20, temperature=0.2, stop=["\n\n"])

    assert response.choices[0].message.content == "echo: hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 4 and response.usage.completion_tokens == 3
    [sent] = fake.requests()
    assert sent["auth_error"] is None
    assert sent["path"] == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert sent["headers"]["x-amz-security-token"] == "session-token"
    assert "/eu-west-1/bedrock/aws4_request" in sent["headers"]["authorization"]
    assert sent["body"] == {
        "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
        "system": [{"text": "be brief"}],
        "inferenceConfig": {"maxTokens": 20, "temperature": 0.2, "stopSequences": ["\n\n"]}}


@pytest.mark.parametrize("name", ["claude-converse", "claude-api-key"])
def test_environment_credentials_and_api_keys(client, fake, name):
    response = client.chat.completions.create(model=name, messages=HELLO)

    assert response.choices[0].message.content == "echo: hello there"
    [sent] = fake.requests()
    assert sent["auth_error"] is None and sent["path"].endswith("-v1%3A0/converse")


def test_multi_turn_tool_conversation(client, fake):
    messages = [
        {"role": "user", "content": "what is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "tooluse_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "18C and sunny"},
        {"role": "user", "content": "thanks, summarise it"}]
    response = client.chat.completions.create(model="claude", messages=messages, tools=[WEATHER],
                                              tool_choice="none")

    assert response.choices[0].message.content == "echo: thanks, summarise it"
    [sent] = fake.requests()
    assert [m["role"] for m in sent["body"]["messages"]] == ["user", "assistant", "user"]


def test_tool_call_response(client, fake):
    response = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER])

    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id.startswith("tooluse_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}


def test_stream_with_tools_reassembled_by_the_sdk(client, fake):
    with client.chat.completions.stream(
            model="claude", messages=[{"role": "user", "content": "weather in Paris?"}],
            tools=[WEATHER], tool_choice="required",
            stream_options={"include_usage": True}) as stream:
        final = stream.get_final_completion()

    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens
    [sent] = fake.requests()
    assert sent["path"].endswith("/converse-stream") and sent["auth_error"] is None
    assert sent["body"]["toolConfig"]["toolChoice"] == {"any": {}}


def test_text_stream_one_id_and_usage(client, fake):
    stream = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)

    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four five six"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 7


@pytest.mark.parametrize("stream", [False, True])
def test_guardrail_is_content_filter(client, fake, stream):
    messages = [{"role": "user", "content": "something forbidden"}]
    if stream:
        chunks = list(client.chat.completions.create(model="claude", messages=messages,
                                                     stream=True))
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        finish = client.chat.completions.create(model="claude", messages=messages) \
            .choices[0].finish_reason
    assert finish == "content_filter"


def test_titan_embeddings_sdk_default_base64(client, fake):
    response = client.embeddings.create(model="titan", input=["first text", "second"],
                                        dimensions=16)

    assert [len(d.embedding) for d in response.data] == [16, 16]
    assert response.usage.prompt_tokens == 3
    assert [r["body"] for r in fake.requests()] == [
        {"inputText": "first text", "dimensions": 16, "normalize": True},
        {"inputText": "second", "dimensions": 16, "normalize": True}]
    floats = client.embeddings.create(model="titan", input="first text", dimensions=16,
                                      encoding_format="float")
    assert floats.data[0].embedding == response.data[0].embedding


def test_cohere_embeddings(client, fake):
    response = client.embeddings.create(model="cohere-embed", input=["a b", "c"])

    assert len(response.data) == 2 and len(response.data[0].embedding) == 8
    assert response.usage.prompt_tokens == 3
    [sent] = fake.requests()
    assert sent["body"] == {"texts": ["a b", "c"], "input_type": "search_document",
                            "embedding_types": ["float"]}


@pytest.mark.parametrize("status,error_type,message,exc_class,code", [
    (429, "ThrottlingException", "Too many requests, please wait before trying again.",
     openai.RateLimitError, None),
    (400, "ValidationException", "Input is too long for requested model.",
     openai.BadRequestError, "context_length_exceeded"),
    (403, "AccessDeniedException", "You don't have access to the model with the specified "
     "model ID.", openai.PermissionDeniedError, None),
    (404, "ResourceNotFoundException", "Could not resolve the foundation model from the "
     "provided model identifier.", openai.NotFoundError, None),
    (500, "InternalServerException", "The server encountered an internal error.",
     openai.InternalServerError, None),
    (503, "ServiceUnavailableException", "Bedrock is unable to process your request.",
     openai.InternalServerError, None),
])
def test_errors_raise_sdk_classes(client, fake, status, error_type, message, exc_class, code):
    fake.script({"status": status, "error_type": error_type, "message": message,
                 "headers": {"Retry-After": "2"} if status == 429 else {}})
    with pytest.raises(exc_class) as excinfo:
        client.chat.completions.create(model="claude", messages=HELLO)
    assert message in excinfo.value.message
    if code:
        assert excinfo.value.code == code
    if status == 429:
        assert excinfo.value.response.headers["retry-after"] == "2"


@pytest.mark.parametrize("name", ["claude-unknown-key", "claude-wrong-secret"])
def test_bad_aws_credentials_are_authentication_errors(client, fake, name):
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=name, messages=HELLO)
    [sent] = fake.requests()
    assert sent["auth_error"] in ("UnrecognizedClientException", "InvalidSignatureException")


START = [{"event": "messageStart", "payload": {"role": "assistant"}},
         {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0,
                                                    "delta": {"text": "partial "}}}]


@pytest.mark.parametrize("script,exc_class", [
    ({"events": START + [{"exception": "throttlingException",
                          "payload": {"message": "Too many tokens"}}]}, openai.APIError),
    ({"events": START + [{"exception": "modelStreamErrorException",
                          "payload": {"message": "Model failed", "originalStatusCode": 500}}]},
     openai.APIError),
    ({"events": START}, openai.APIError),  # ends without messageStop/metadata
    ({"events": START + [{"garbage": True}]}, openai.APIError),
    ({"events": START, "abort": True}, openai.APIError),
])
def test_broken_streams_raise_in_the_sdk(client, fake, script, exc_class):
    fake.script(script)
    received = []
    stream = client.chat.completions.create(model="claude", messages=HELLO, stream=True)
    with stream, pytest.raises(exc_class) as excinfo:
        for chunk in stream:
            received.append(chunk)
    assert excinfo.value.message
    assert any(c.choices and c.choices[0].delta.content == "partial " for c in received)


def test_error_before_the_stream_starts_is_a_status_error(client, fake):
    fake.script({"status": 429, "error_type": "ThrottlingException", "message": "slow down"})
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="claude", messages=HELLO, stream=True)
