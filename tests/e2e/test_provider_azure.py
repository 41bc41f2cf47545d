"""Azure OpenAI end to end: the openai SDK -> the real gateway -> a fake Azure resource."""

import openai
import pytest

from .helpers import fake_fixtures, model, start_gateway

KEY = "azure-key-1"
VERSION = "2024-10-21"
HELLO = [{"role": "user", "content": "Paris"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object",
                                          "properties": {"location": {"type": "string"}}}}}


azure_upstream, fake = fake_fixtures("fake_azure.py", "azure_upstream")



@pytest.fixture(scope="module")
def gateway(tmp_path_factory, azure_upstream):
    """A gateway with Azure deployments; client-side credentials on (the seed's example)."""
    up = {"api_base": azure_upstream.url, "api_key": KEY, "api_version": VERSION}
    config = {
        "model_list": [
            model("gpt-4o", "azure/gpt4o-prod", **up),
            model("embed", "azure/embed-small", **up),
            model("instruct", "azure/instruct", **up),
            model("bad-key", "azure/gpt4o-prod", **{**up, "api_key": "bad-key"}),
            model("missing", "azure/missing", **up),
            model("ad", "azure/gpt4o-prod", api_base=azure_upstream.url,
                  azure_ad_token="ad-token-1"),
            model("from-env", "azure/env-deployment"),
        ],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"allow_client_side_credentials": True,
                             "allow_private_api_base": True, "access_log": "off"},
    }
    env = {"AZURE_API_BASE": azure_upstream.url, "AZURE_API_KEY": "env-key",
           "AZURE_API_VERSION": "2025-01-01-preview"}
    gw = start_gateway(tmp_path_factory.mktemp("gw-azure"), config, env=env)
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    """An openai client on the gateway."""
    with gateway.client() as c:
        yield c


def test_chat(client, fake):
    response = client.chat.completions.create(model="gpt-4o", messages=HELLO, temperature=0.2)

    assert response.choices[0].message.content == "echo: Paris"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens == response.usage.prompt_tokens + 2
    [sent] = fake.requests()
    assert sent["path"] == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent["query"] == {"api-version": [VERSION]}
    assert sent["headers"]["api-key"] == KEY and "authorization" not in sent["headers"]
    assert sent["body"]["temperature"] == 0.2 and sent["body"]["messages"] == HELLO


def test_stream_skips_prompt_filter_chunks(client, fake):
    chunks = list(client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "the sky is blue"}], stream=True,
        stream_options={"include_usage": True}))

    assert all(c.id and c.id.startswith("chatcmpl-") for c in chunks)
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    content = [c for c in chunks if c.choices]
    assert content[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content) == "echo: the sky is blue"
    assert content[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5


def test_stream_with_tools(client, fake):
    with client.chat.completions.stream(model="gpt-4o", messages=HELLO,
                                        tools=[WEATHER]) as stream:
        final = stream.get_final_completion()

    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    [call] = message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert call.function.arguments == '{"location": "Paris"}'


def test_multi_turn_tools(client, fake):
    history = HELLO + [
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]
    response = client.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])

    assert response.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert fake.requests()[0]["body"]["messages"] == history


def test_embeddings_base64_default(client, fake):
    response = client.embeddings.create(model="embed", input=["hello", "world"], dimensions=4)

    [sent] = fake.requests()
    assert sent["path"] == "/openai/deployments/embed-small/embeddings"
    assert sent["body"]["encoding_format"] == "base64" and sent["body"]["dimensions"] == 4
    floats = client.embeddings.create(model="embed", input=["hello", "world"], dimensions=4,
                                      encoding_format="float")
    assert [d.embedding for d in response.data] == [d.embedding for d in floats.data]
    assert len(response.data[0].embedding) == 4


def test_completions(client, fake):
    response = client.completions.create(model="instruct", prompt="say this")
    assert response.choices[0].text == "echo: say this"
    assert fake.requests()[0]["path"] == "/openai/deployments/instruct/completions"


def test_ad_token_and_env_credentials(client, fake):
    client.chat.completions.create(model="ad", messages=HELLO)
    client.chat.completions.create(model="from-env", messages=HELLO)

    ad, env = fake.requests()
    assert ad["headers"]["authorization"] == "Bearer ad-token-1" and "api-key" not in ad["headers"]
    assert env["path"] == "/openai/deployments/env-deployment/chat/completions"
    assert env["headers"]["api-key"] == "env-key"
    assert env["query"] == {"api-version": ["2025-01-01-preview"]}


def test_seed_per_request_credentials(client, fake):
    response = client.chat.completions.create(model="gpt-4o", messages=HELLO, extra_body={
        "api_key": "my-azure-key", "api_base": fake.url + "/",
        "api_version": "2024-08-01-preview"})

    assert response.choices[0].message.content == "echo: Paris"
    [sent] = fake.requests()
    assert sent["headers"]["api-key"] == "my-azure-key"
    assert sent["query"] == {"api-version": ["2024-08-01-preview"]}
    assert not {"api_key", "api_base", "api_version"} & set(sent["body"])


def test_client_base_without_key_gets_no_deployment_key(client, fake):
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO,
                                       extra_body={"api_base": fake.url})
    assert fake.requests() == []


@pytest.mark.parametrize("name,exc", [("bad-key", openai.AuthenticationError),
                                      ("missing", openai.NotFoundError)])
def test_auth_and_not_found(client, fake, name, exc):
    with pytest.raises(exc) as excinfo:
        client.chat.completions.create(model=name, messages=HELLO)
    if name == "missing":
        assert excinfo.value.code == "model_not_found"


def test_content_filter_is_content_policy_violation(client, fake):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="gpt-4o",
                                       messages=[{"role": "user", "content": "FILTER_ME"}])
    assert excinfo.value.code == "content_policy_violation"


@pytest.mark.parametrize("script,exc,code", [
    ({"status": 429, "headers": {"retry-after": "6"}, "json": {"error": {
        "code": "429", "message": "Requests to the ChatCompletions_Create Operation have "
                                  "exceeded token rate limit. Please retry after 6 seconds."}}},
     openai.RateLimitError, "rate_limit_exceeded"),
    ({"status": 400, "json": {"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
                   "messages resulted in 130512 tokens.", "type": "invalid_request_error",
        "param": "messages", "code": "context_length_exceeded"}}},
     openai.BadRequestError, "context_length_exceeded"),
    ({"status": 500, "json": {"error": {"code": "InternalServerError", "message":
                                        "The service is temporarily unable to process"}}},
     openai.InternalServerError, None),
])
def test_upstream_errors(client, fake, script, exc, code):
    fake.script(script)
    with pytest.raises(exc) as excinfo:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    if code:
        assert excinfo.value.code == code
    if exc is openai.RateLimitError:
        assert excinfo.value.response.headers["retry-after"] == "6"


def test_stream_cut_before_done_raises(client, fake):
    fake.script({"stream_events": [
        '{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}',
        '{"choices":[{"delta":{"role":"assistant","content":"par"},"index":0,'
        '"finish_reason":null}],"created":1,"id":"chatcmpl-x","model":"gpt-4o",'
        '"object":"chat.completion.chunk"}'], "done": False})
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))
