"""Cohere through the real gateway: a fake Cohere v2 process, driven by the openai SDK."""
import json

import openai
import pytest

from .helpers import fake_fixtures, model, start_gateway

KEY = "co-e2e-key"
HELLO = [{"role": "user", "content": "hello there"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


cohere, fake = fake_fixtures("fake_cohere.py", "cohere")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, cohere):
    """A gateway whose models all live on the fake Cohere, configured LiteLLM-style."""
    host = cohere.url
    config = {
        "model_list": [
            # LiteLLM configs give the endpoint URL; a bare host works too.
            model("command", "cohere/command-a-03-2025", api_key=KEY, api_base=host + "/v2/chat"),
            model("command-host", "cohere/command-r-plus", api_key=KEY, api_base=host),
            model("command-env", "cohere/command-r", api_base=host),
            model("command-strict", "cohere/command-r", api_key=KEY, api_base=host,
                  drop_params=False),
            model("command-bad-key", "cohere/command-r", api_key="co-bad", api_base=host),
            model("command-missing", "cohere/command-nope", api_key=KEY, api_base=host),
            model("embed", "cohere/embed-v4.0", api_key=KEY, api_base=host + "/v2/embed"),
            model("embed-query", "cohere/embed-v4.0", api_key=KEY, api_base=host,
                  input_type="search_query"),
        ],
        "litellm_settings": {"drop_params": True, "num_retries": 0, "request_timeout": 30},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-cohere"), config,
                       env={"COHERE_API_KEY": "co-from-env"})
    yield gw
    gw.stop()



@pytest.fixture
def client(gateway):
    """An openai SDK client on the gateway."""
    with gateway.client() as c:
        yield c


def only_request(fake, path="/v2/chat"):
    [request] = fake.requests(path)
    return request


def test_chat(client, fake):
    response = client.chat.completions.create(
        model="command", messages=[{"role": "system", "content": "be brief"}, *HELLO],
        temperature=0.2, top_p=1, max_tokens=20, stop=["\n\n"], seed=3)
    assert response.choices[0].message.content == "echo: hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "command-a-03-2025" and response.id.startswith("chatcmpl-")
    assert response.usage.prompt_tokens == 11 and response.usage.completion_tokens == 3
    sent = only_request(fake)
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["body"] == {
        "model": "command-a-03-2025",
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": "hello there"}],
        "temperature": 0.2, "seed": 3, "p": 0.99, "max_tokens": 20, "stop_sequences": ["\n\n"]}


@pytest.mark.parametrize("name,upstream,key", [("command-host", "command-r-plus", KEY),
                                               ("command-env", "command-r", "co-from-env")])
def test_bare_host_and_env_key(client, fake, name, upstream, key):
    client.chat.completions.create(model=name, messages=HELLO)
    sent = only_request(fake)
    assert sent["body"]["model"] == upstream
    assert sent["headers"]["authorization"] == f"Bearer {key}"


def test_max_tokens_finish_reason_length(client, fake):
    response = client.chat.completions.create(model="command", messages=HELLO,
                                              max_completion_tokens=2)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "echo: hello"


def test_stream_text_with_usage(client, fake):
    stream = client.chat.completions.create(model="command", messages=HELLO, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 12
    assert only_request(fake)["body"]["stream"] is True


def test_stream_tool_calls_reassemble(client, fake):
    stream = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "Paris"}], tools=[WEATHER],
        tool_choice="required", stream=True)
    calls, plan, finish = {}, "", None
    for chunk in stream:
        choice = chunk.choices[0]
        plan += choice.delta.content or ""
        finish = choice.finish_reason or finish
        for tc in choice.delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            entry["id"] = tc.id or entry["id"]
            entry["name"] = (tc.function.name if tc.function else None) or entry["name"]
            entry["arguments"] += (tc.function.arguments if tc.function else None) or ""
    assert finish == "tool_calls" and plan == "I will use the get_weather tool."
    [call] = calls.values()
    assert call["name"] == "get_weather" and call["id"].startswith("get_weather_")
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    sent = only_request(fake)["body"]
    assert sent["tool_choice"] == "REQUIRED"
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather",
        "parameters": WEATHER["function"]["parameters"]}}]


def test_tool_round_trip(client, fake):
    first = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "Paris"}], tools=[WEATHER])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    [call] = message.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    second = client.chat.completions.create(model="command", tools=[WEATHER], messages=[
        {"role": "user", "content": "Paris"}, message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}])
    assert second.choices[0].message.content == "echo: sunny, 21C"
    sent = fake.requests("/v2/chat")[-1]["body"]["messages"]
    assert sent[1] == {"role": "assistant", "tool_plan": "I will use the get_weather tool.",
                       "tool_calls": [{"id": call.id, "type": "function", "function": {
                           "name": "get_weather", "arguments": call.function.arguments}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}


def test_image_parts_reach_cohere(client, fake):
    data_uri = "data:image/png;base64,iVBORw0KGgo="
    client.chat.completions.create(model="command", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": data_uri}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png",
                                            "detail": "high"}}]}])
    content = only_request(fake)["body"]["messages"][0]["content"]
    assert content[1] == {"type": "image_url", "image_url": {"url": data_uri}}
    assert content[2]["image_url"] == {"url": "https://example.com/cat.png", "detail": "high"}


def test_embeddings_default_base64(client, fake):
    as_b64 = client.embeddings.create(model="embed", input=["sunny day", "rainy day"])
    as_float = client.embeddings.create(model="embed", input=["sunny day", "rainy day"],
                                        encoding_format="float")
    assert [d.embedding for d in as_b64.data] == [d.embedding for d in as_float.data]
    assert len(as_b64.data) == 2 and len(as_b64.data[0].embedding) == 8
    assert as_b64.usage.prompt_tokens == 4
    first = fake.requests("/v2/embed")[0]["body"]
    assert first == {"model": "embed-v4.0", "texts": ["sunny day", "rainy day"],
                     "input_type": "search_document", "embedding_types": ["float"]}


def test_embeddings_dimensions_and_input_type(client, fake):
    response = client.embeddings.create(model="embed-query", input="where", dimensions=16)
    assert len(response.data[0].embedding) == 16
    sent = only_request(fake, "/v2/embed")["body"]
    assert sent["output_dimension"] == 16 and sent["input_type"] == "search_query"
    client.embeddings.create(model="embed-query", input="x",
                             extra_body={"input_type": "classification"})
    assert fake.requests("/v2/embed")[-1]["body"]["input_type"] == "classification"


def test_embeddings_token_input_refused(client, fake):
    with pytest.raises(openai.BadRequestError) as exc:
        client.embeddings.create(model="embed", input=[[1, 2, 3]])
    assert exc.value.body["param"] == "input"
    assert fake.requests() == []


def test_bad_key(client, fake):
    with pytest.raises(openai.AuthenticationError, match="invalid api token"):
        client.chat.completions.create(model="command-bad-key", messages=HELLO)


def test_unknown_upstream_model(client, fake):
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="command-missing", messages=HELLO)
    assert exc.value.code == "model_not_found"


@pytest.mark.parametrize("status,message,cls,code", [
    (429, "You are past the per minute request limit, please wait and try again later.",
     openai.RateLimitError, "rate_limit_exceeded"),
    (400, "too many tokens: size limit exceeded by 11326 tokens. Try using shorter or fewer "
          "inputs, or setting prompt_truncation='AUTO'.",
     openai.BadRequestError, "context_length_exceeded"),
    (498, "blocked output: please adjust your prompt and try again",
     openai.BadRequestError, "content_policy_violation"),
    (500, "internal server error", openai.InternalServerError, None),
    (503, "service unavailable", openai.InternalServerError, "service_unavailable"),
])
def test_upstream_errors(client, fake, status, message, cls, code):
    fake.script({"status": status, "json": {"id": "e1", "message": message},
                 "headers": {"Retry-After": "5"}})
    with pytest.raises(cls) as exc:
        client.chat.completions.create(model="command", messages=HELLO)
    assert exc.value.status_code == (status if status != 498 else 400)
    assert exc.value.code == code and message in exc.value.message
    if status == 429:
        assert exc.value.response.headers["retry-after"] == "5"


def test_unsupported_parameter_refused_unless_dropped(client, fake):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="command-strict", messages=HELLO,
                                       logit_bias={"1": 5})
    assert exc.value.body["param"] == "logit_bias"
    assert fake.requests() == []
    client.chat.completions.create(model="command", messages=HELLO, logit_bias={"1": 5}, n=2)
    assert "logit_bias" not in only_request(fake)["body"]


def test_stream_cut_before_message_end(client, fake):
    fake.script({"stream_events": [
        {"id": "m1", "type": "message-start", "delta": {"message": {"role": "assistant"}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}},
    ]})
    stream = client.chat.completions.create(model="command", messages=HELLO, stream=True)
    got = []
    with pytest.raises(openai.APIError, match="before message-end"):
        for chunk in stream:
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "Hi"


def test_embeddings_beyond_cohere_batch_limit(client, fake):
    inputs = [f"text number {i}" for i in range(150)]
    response = client.embeddings.create(model="embed", input=inputs)
    assert [d.index for d in response.data] == list(range(150))
    single = client.embeddings.create(model="embed", input=inputs[120])
    assert response.data[120].embedding == single.data[0].embedding
    assert [len(r["body"]["texts"]) for r in fake.requests("/v2/embed")] == [96, 54, 1]
    assert response.usage.prompt_tokens == 450
