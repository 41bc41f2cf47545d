"""The built-in mock provider (``mock/<anything>``): no upstream, deterministic answers."""
from .helpers import text_of_stream

QUESTION = "what is the airspeed velocity of an unladen swallow"


def ask(client, content=QUESTION, **kwargs):
    """One chat call to the demo model."""
    messages = [{"role": "user", "content": content}]
    return client.chat.completions.create(model="demo", messages=messages, **kwargs)


def test_demo_echoes_last_user_message(client, fake):
    first = ask(client)
    second = ask(client)

    assert QUESTION in first.choices[0].message.content
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].message.role == "assistant"
    assert first.choices[0].finish_reason == "stop"
    assert first.object == "chat.completion"
    assert fake.requests() == []


def test_demo_uses_the_last_user_message_only(client):
    response = client.chat.completions.create(model="demo", messages=[
        {"role": "user", "content": "alpha"}, {"role": "assistant", "content": "beta"},
        {"role": "user", "content": "gamma"}])

    assert "gamma" in response.choices[0].message.content
    assert "alpha" not in response.choices[0].message.content


def test_demo_usage_counts(client):
    usage = ask(client).usage

    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_demo_streams_in_several_chunks(client):
    expected = ask(client).choices[0].message.content
    chunks = list(ask(client, stream=True, stream_options={"include_usage": True}))

    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert text_of_stream(chunks) == expected
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.total_tokens > 0


def test_mock_response_in_litellm_params(client):
    response = client.chat.completions.create(model="mock-fixed",
                                              messages=[{"role": "user", "content": "anything"}])

    assert response.choices[0].message.content == "a fixed reply"


def test_mock_response_in_request_body(client):
    response = ask(client, extra_body={"mock_response": "hello from the body"})

    assert response.choices[0].message.content == "hello from the body"


def test_mock_response_in_request_body_streamed(client):
    chunks = list(ask(client, stream=True, extra_body={"mock_response": "streamed fixed reply"}))

    assert text_of_stream(chunks) == "streamed fixed reply"


def test_mock_embeddings_are_deterministic(client):
    first = client.embeddings.create(model="demo", input=["same text", "other text"])
    second = client.embeddings.create(model="demo", input="same text")

    assert len(first.data) == 2
    assert len(first.data[0].embedding) > 0
    assert first.data[0].embedding == second.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding
    assert all(isinstance(x, float) for x in first.data[0].embedding)


def test_mock_text_completion(client):
    response = client.completions.create(model="demo", prompt="complete me")

    assert response.object == "text_completion"
    assert response.choices[0].text
