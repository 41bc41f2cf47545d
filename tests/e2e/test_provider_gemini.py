"""Gemini end to end: a real gateway in front of the fake Gemini API, driven by the openai SDK."""
import base64
import json
import struct

import openai
import pytest
import requests

from .helpers import fake_fixtures, model, start_gateway

KEY = "gm-e2e-key"
HELLO = [{"role": "user", "content": "hello there"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "additionalProperties": False,
                   "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


fake_gemini, fake = fake_fixtures("fake_gemini.py", "fake_gemini")


@pytest.fixture(scope="module")
def gemini_gateway(tmp_path_factory, fake_gemini):
    """A gateway with Gemini deployments on the fake (bare host and host + /v1beta)."""
    config = {
        "model_list": [
            model("gemini-flash", "gemini/gemini-2.5-flash", api_base=fake_gemini.url,
                  api_key="os.environ/GEMINI_API_KEY"),
            model("gemini-versioned", "gemini/gemini-2.0-flash",
                  api_base=fake_gemini.url + "/v1beta", api_key=KEY),
            model("gemini-embed", "gemini/gemini-embedding-001", api_base=fake_gemini.url,
                  api_key=KEY, task_type="RETRIEVAL_DOCUMENT"),
            model("gemini-bad-key", "gemini/gemini-2.5-flash", api_base=fake_gemini.url,
                  api_key="gm-bad"),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-gemini"), config,
                       env={"GEMINI_API_KEY": KEY})
    yield gw
    gw.stop()



@pytest.fixture
def client(gemini_gateway):
    """An openai client on the Gemini gateway."""
    with gemini_gateway.client() as c:
        yield c


def google_error(code, status, message, details=None):
    """Google's error body."""
    return {"error": {"code": code, "message": message, "status": status,
                      **({"details": details} if details else {})}}


@pytest.mark.parametrize("name", ["gemini-flash", "gemini-versioned"])
def test_chat(client, fake, name):
    response = client.chat.completions.create(
        model=name, messages=[{"role": "system", "content": "be brief"}] + HELLO,
        temperature=0.2, max_tokens=20, stop=["\n\n"])

    assert response.choices[0].message.content == "echo: hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 4 and response.usage.completion_tokens == 3
    [sent] = fake.requests()
    assert sent["path"].startswith("/v1beta/models/gemini-2.")
    assert sent["path"].endswith(":generateContent")
    assert sent["headers"]["x-goog-api-key"] == KEY and "key" not in sent["query"]
    assert sent["body"]["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent["body"]["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 20,
                                                "stopSequences": ["\n\n"]}


def test_stream_text_with_usage(client, fake):
    chunks = list(client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "one two three four five"}],
        stream=True, stream_options={"include_usage": True}))

    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four five"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.prompt_tokens == 5 and chunks[-1].usage.completion_tokens == 6
    [sent] = fake.requests()
    assert sent["path"].endswith(":streamGenerateContent") and sent["query"] == {"alt": ["sse"]}


def test_stream_with_tools_then_tool_results(client, fake):
    messages = [{"role": "user", "content": "weather in two cities"}]
    stream = client.chat.completions.create(model="gemini-flash", messages=messages,
                                            tools=[WEATHER], stream=True)
    calls, finish = {}, None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(delta_call.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = delta_call.id or entry["id"]
            entry["name"] += delta_call.function.name or ""
            entry["arguments"] += delta_call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish

    assert finish == "tool_calls"
    assert [json.loads(c["arguments"]) for c in calls.values()] == [
        {"location": "Paris"}, {"location": "Rome"}]
    assert all(c["name"] == "get_weather" for c in calls.values())
    decl = fake.requests()[0]["body"]["tools"][0]["functionDeclarations"][0]
    assert "additionalProperties" not in decl["parameters"]

    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": c["id"], "type": "function",
         "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls.values()]})
    messages += [{"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"temp": 21}'},
                 {"role": "tool", "tool_call_id": calls[1]["id"], "content": "sunny"}]
    response = client.chat.completions.create(model="gemini-flash", messages=messages,
                                              tools=[WEATHER])

    assert response.choices[0].message.content == \
        'results: [{"temp": 21}, {"content": "sunny"}]'
    sent = fake.requests()[-1]["body"]["contents"]
    assert sent[1]["parts"][0]["thoughtSignature"] == "c2lnLWZha2U="
    assert [p["functionResponse"]["name"] for p in sent[2]["parts"]] == ["get_weather"] * 2


def test_non_stream_tool_call(client, fake):
    response = client.chat.completions.create(model="gemini-flash", messages=HELLO,
                                              tools=[WEATHER], tool_choice="required")

    [call] = response.choices[0].message.tool_calls
    assert response.choices[0].finish_reason == "tool_calls"
    assert call.id.startswith("call_") and json.loads(call.function.arguments) == {
        "location": "Paris"}
    assert fake.requests()[0]["body"]["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_image_parts_reach_gemini(client, fake):
    client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}]}])

    parts = fake.requests()[0]["body"]["contents"][0]["parts"]
    assert parts[1] == {"inline_data": {"mime_type": "image/jpeg", "data": "/9j/4AAQ"}}


def test_embeddings_base64_default_and_float(client, fake):
    default = client.embeddings.create(model="gemini-embed", input=["a", "b"], dimensions=4)
    floats = client.embeddings.create(model="gemini-embed", input="a", dimensions=4,
                                      encoding_format="float")

    assert len(default.data) == 2 and len(default.data[0].embedding) == 4
    assert default.data[0].embedding == floats.data[0].embedding
    batch, single = fake.requests()
    assert batch["path"].endswith(":batchEmbedContents")
    assert batch["body"]["requests"][0]["taskType"] == "RETRIEVAL_DOCUMENT"
    assert batch["body"]["requests"][0]["outputDimensionality"] == 4
    assert single["path"].endswith(":embedContent")


def test_embeddings_raw_base64(gemini_gateway, fake):
    raw = requests.post(gemini_gateway.url + "/v1/embeddings", timeout=10, json={
        "model": "gemini-embed", "input": "a", "dimensions": 3, "encoding_format": "base64"})
    vector = struct.unpack("<3f", base64.b64decode(raw.json()["data"][0]["embedding"]))
    float_body = requests.post(gemini_gateway.url + "/v1/embeddings", timeout=10, json={
        "model": "gemini-embed", "input": "a", "dimensions": 3}).json()
    assert list(vector) == float_body["data"][0]["embedding"]


def test_invalid_api_key_is_authentication_error(client, fake):
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="gemini-bad-key", messages=HELLO)
    assert "gm-bad" not in str(info.value)


@pytest.mark.parametrize("script,exc,code", [
    ({"status": 403, "json": google_error(403, "PERMISSION_DENIED", "denied")},
     openai.PermissionDeniedError, None),
    ({"status": 404, "json": google_error(404, "NOT_FOUND", "models/x is not found")},
     openai.NotFoundError, None),
    ({"status": 400, "json": google_error(
        400, "INVALID_ARGUMENT",
        "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).")},
     openai.BadRequestError, "context_length_exceeded"),
    ({"status": 500, "json": google_error(500, "INTERNAL", "An internal error has occurred.")},
     openai.InternalServerError, None),
    ({"status": 503, "json": google_error(503, "UNAVAILABLE", "The model is overloaded.")},
     openai.InternalServerError, "service_unavailable"),
])
def test_upstream_errors(client, fake, script, exc, code):
    fake.script(script)
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="gemini-flash", messages=HELLO)
    if code:
        assert info.value.code == code


def test_rate_limit_with_retry_after(client, fake):
    fake.script({"status": 429, "json": google_error(
        429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}])})
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gemini-flash", messages=HELLO)
    assert info.value.response.headers["retry-after"] == "17"


def test_unsupported_param_is_400_naming_it(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gemini-flash", messages=HELLO, logit_bias={"1": 1})
    assert info.value.param == "logit_bias"
    response = client.chat.completions.create(model="gemini-flash", messages=HELLO,
                                              logit_bias={"1": 1},
                                              extra_body={"drop_params": True})
    assert response.choices[0].message.content == "echo: hello there"


def test_stream_cut_without_finish_reason_ends_with_error(client, fake):
    fake.script({"stream_events": [json.dumps({"candidates": [{"content": {
        "parts": [{"text": "partial"}], "role": "model"}, "index": 0}]})]})
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="gemini-flash", messages=HELLO, stream=True))
