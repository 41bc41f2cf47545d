"""Ollama end to end: the openai SDK -> the real gateway -> a fake Ollama server."""
import json

import openai
import pytest

from .helpers import fake_fixtures, model, start_gateway

HELLO = [{"role": "user", "content": "Paris"}]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5"
       "ErkJggg==")
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object",
                                          "properties": {"location": {"type": "string"}}}}}


ollama_upstream, fake = fake_fixtures("fake_ollama.py", "ollama_upstream")



@pytest.fixture(scope="module")
def gateway(tmp_path_factory, ollama_upstream):
    """A gateway with ollama and ollama_chat deployments."""
    base = ollama_upstream.url
    config = {
        "model_list": [
            model("llama", "ollama_chat/llama3.2", api_base=base, keep_alive="10m"),
            model("llama-legacy", "ollama/llama3.2", api_base=base),
            model("minilm", "ollama/all-minilm", api_base=base),
            model("missing", "ollama/missing", api_base=base),
            model("from-env", "ollama_chat/qwen3:8b"),
        ],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"access_log": "off"},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-ollama"), config,
                       env={"OLLAMA_API_BASE": base})
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    """An openai client on the gateway."""
    with gateway.client() as c:
        yield c


def test_chat_translates_options(client, fake):
    response = client.chat.completions.create(
        model="llama", messages=[{"role": "system", "content": "Be brief."}] + HELLO,
        temperature=0.1, top_p=0.9, seed=7, stop=["\n"], max_tokens=50)

    assert response.choices[0].message.content == "echo: Paris"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 3 and response.usage.completion_tokens == 2
    [sent] = fake.requests()
    assert sent["path"] == "/api/chat"
    assert sent["body"] == {
        "model": "llama3.2", "stream": False, "keep_alive": "10m",
        "messages": [{"role": "system", "content": "Be brief."}, *HELLO],
        "options": {"temperature": 0.1, "top_p": 0.9, "seed": 7, "num_predict": 50,
                    "stop": ["\n"]}}


def test_length_finish_reason(client, fake):
    response = client.chat.completions.create(
        model="llama-legacy", messages=[{"role": "user", "content": "one two three four"}],
        max_completion_tokens=2)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "echo: one"


def test_stream(client, fake):
    chunks = list(client.chat.completions.create(
        model="llama", messages=[{"role": "user", "content": "the sky is blue"}], stream=True,
        stream_options={"include_usage": True}))

    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert len({c.created for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in content) == "echo: the sky is blue"
    assert content[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5
    assert fake.requests()[0]["body"]["stream"] is True


def test_stream_with_tools(client, fake):
    with client.chat.completions.stream(model="llama", messages=HELLO,
                                        tools=[WEATHER]) as stream:
        final = stream.get_final_completion()

    assert final.choices[0].finish_reason == "tool_calls"
    [call] = final.choices[0].message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}


def test_tool_results_and_images(client, fake):
    history = [
        {"role": "user", "content": [
            {"type": "text", "text": "Weather where this was taken?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    response = client.chat.completions.create(model="llama", messages=history)

    assert response.choices[0].message.content == "echo: Weather where this was taken? (1 images)"
    messages = fake.requests()[0]["body"]["messages"]
    assert messages[0]["images"] == [PNG]
    assert messages[1]["tool_calls"][0]["function"]["arguments"] == {"location": "Paris"}
    assert messages[2] == {"role": "tool", "content": "18C", "tool_name": "get_weather",
                           "tool_call_id": "call_1"}


def test_json_mode(client, fake):
    response = client.chat.completions.create(model="llama", messages=HELLO,
                                              response_format={"type": "json_object"})
    assert json.loads(response.choices[0].message.content) == {"echo": "Paris"}
    assert fake.requests()[0]["body"]["format"] == "json"


def test_embeddings_base64_default(client, fake):
    response = client.embeddings.create(model="minilm", input=["hello", "world"])
    floats = client.embeddings.create(model="minilm", input=["hello", "world"],
                                      encoding_format="float")

    sent = fake.requests()[0]
    assert sent["path"] == "/api/embed" and sent["body"] == {"model": "all-minilm",
                                                             "input": ["hello", "world"]}
    assert [d.embedding for d in response.data] == [d.embedding for d in floats.data]
    assert len(response.data[1].embedding) == 6
    assert response.usage.prompt_tokens == 2


def test_completions_via_generate(client, fake):
    response = client.completions.create(model="llama", prompt="say this")
    assert response.choices[0].text == "echo: say this"
    assert fake.requests()[0]["path"] == "/api/generate"
    text = "".join(c.choices[0].text for c in client.completions.create(
        model="llama", prompt="say that", stream=True))
    assert text == "echo: say that"


def test_base_from_env(client, fake):
    client.chat.completions.create(model="from-env", messages=HELLO)
    assert fake.requests()[0]["body"]["model"] == "qwen3:8b"


def test_unsupported_param_refused_unless_dropped(client, fake):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="llama", messages=HELLO, logit_bias={"1": 5})
    assert excinfo.value.param == "logit_bias" and fake.requests() == []
    client.chat.completions.create(model="llama", messages=HELLO, logit_bias={"1": 5},
                                   extra_body={"drop_params": True})
    assert "logit_bias" not in fake.requests()[0]["body"]


def test_model_not_found(client, fake):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.chat.completions.create(model="missing", messages=HELLO)
    assert excinfo.value.code == "model_not_found"


@pytest.mark.parametrize("script,exc,code", [
    ({"status": 429, "headers": {"Retry-After": "3"}, "json": {"error": "rate limit"}},
     openai.RateLimitError, "rate_limit_exceeded"),
    ({"status": 400, "json": {"error": "the input length exceeds the context length"}},
     openai.BadRequestError, "context_length_exceeded"),
    ({"status": 401, "json": {"error": "unauthorized"}}, openai.AuthenticationError, None),
    ({"status": 500, "json": {"error": "llama runner process has terminated: signal: killed"}},
     openai.InternalServerError, None),
])
def test_upstream_errors(client, fake, script, exc, code):
    fake.script(script)
    with pytest.raises(exc) as excinfo:
        client.chat.completions.create(model="llama", messages=HELLO)
    if code:
        assert excinfo.value.code == code
    if exc is openai.RateLimitError:
        assert excinfo.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize("lines", [
    ['{"model":"llama3.2","message":{"role":"assistant","content":"par"},"done":false}'],
    ['{"model":"llama3.2","message":{"role":"assistant","content":"par"},"done":false}',
     '{"error":"llama runner process has terminated"}'],
])
def test_broken_stream_raises(client, fake, lines):
    fake.script({"lines": lines})
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="llama", messages=HELLO, stream=True))
