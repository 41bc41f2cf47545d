"""num_retries: a retryable upstream failure is retried on the other deployment of the model."""
import openai
import pytest

from .helpers import UPSTREAM_KEY, model, start_gateway, text_of_stream

HELLO = [{"role": "user", "content": "hi"}]
RATE_LIMITED = {"status": 429, "headers": {"Retry-After": "1"}, "json": {"error": {
    "message": "Rate limit reached", "type": "requests", "param": None,
    "code": "rate_limit_exceeded"}}}
SERVER_ERROR = {"status": 500, "json": {"error": {
    "message": "The server had an error", "type": "server_error", "param": None, "code": None}}}


@pytest.fixture(scope="module")
def retry_gateway(tmp_path_factory, fake_upstream):
    """Two deployments behind one model name, litellm_settings.num_retries: 1."""
    up = {"api_base": fake_upstream.base, "api_key": UPSTREAM_KEY}
    config = {
        "model_list": [model("pair", "openai/gpt-a", **up), model("pair", "openai/gpt-b", **up)],
        "litellm_settings": {"num_retries": 1, "request_timeout": 30},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-retry"), config)
    yield gw
    gw.stop()


def upstream_models(fake):
    """The upstream model of each chat request the fake received, in order."""
    return [r["body"]["model"] for r in fake.requests("/chat/completions")]


@pytest.mark.parametrize("failure", [RATE_LIMITED, SERVER_ERROR], ids=["429", "500"])
def test_config_num_retries_moves_to_the_other_deployment(retry_gateway, fake, failure):
    fake.script(failure)
    with retry_gateway.client() as client:
        response = client.chat.completions.create(model="pair", messages=HELLO)

    assert response.choices[0].message.content == "echo: hi"
    assert sorted(upstream_models(fake)) == ["gpt-a", "gpt-b"]


def test_retry_before_the_first_byte_of_a_stream(retry_gateway, fake):
    fake.script(RATE_LIMITED)
    with retry_gateway.client() as client:
        chunks = list(client.chat.completions.create(model="pair", messages=HELLO, stream=True))

    assert text_of_stream(chunks) == "echo: hi"
    assert sorted(upstream_models(fake)) == ["gpt-a", "gpt-b"]


def test_retries_exhausted_returns_the_last_error(retry_gateway, fake):
    fake.script(RATE_LIMITED, RATE_LIMITED, RATE_LIMITED)
    with retry_gateway.client() as client, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="pair", messages=HELLO)

    assert len(upstream_models(fake)) == 2


def test_per_request_num_retries(client, fake):
    fake.script(SERVER_ERROR)
    response = client.chat.completions.create(model="pair", messages=HELLO,
                                              extra_body={"num_retries": 1})

    assert response.choices[0].message.content == "echo: hi"
    assert sorted(upstream_models(fake)) == ["gpt-a", "gpt-b"]
    assert all("num_retries" not in r["body"] for r in fake.requests())


def test_no_retry_when_num_retries_is_zero(client, fake):
    fake.script(RATE_LIMITED)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="pair", messages=HELLO)

    assert len(upstream_models(fake)) == 1


def test_per_request_zero_overrides_config(retry_gateway, fake):
    fake.script(RATE_LIMITED)
    with retry_gateway.client() as client, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="pair", messages=HELLO, extra_body={"num_retries": 0})

    assert len(upstream_models(fake)) == 1
