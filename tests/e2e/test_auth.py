"""general_settings.master_key: API routes need it, health routes do not, upstream never sees it."""
import openai
import pytest
import requests

from .helpers import MASTER_KEY, UPSTREAM_KEY, assert_error_body

HELLO = [{"role": "user", "content": "hi"}]
CHAT = {"model": "gpt-3.5-turbo", "messages": HELLO}


def test_master_key_bearer_accepted(master_gateway, fake):
    with master_gateway.client(api_key=MASTER_KEY) as client:
        response = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert response.choices[0].message.content == "echo: hi"
    [sent] = fake.requests("/chat/completions")
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert MASTER_KEY not in str(sent)


def test_api_key_header_accepted(master_gateway, fake):
    response = requests.post(master_gateway.url + "/v1/chat/completions", json=CHAT,
                             headers={"api-key": MASTER_KEY}, timeout=30)

    assert response.status_code == 200, response.text
    assert MASTER_KEY not in str(fake.requests())


@pytest.mark.parametrize("api_key", ["sk-wrong", "sk-master-but-longer", "SK-MASTER"])
def test_wrong_key_is_401(master_gateway, fake, api_key):
    with master_gateway.client(api_key=api_key) as client, \
            pytest.raises(openai.AuthenticationError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.status_code == 401
    assert isinstance(excinfo.value.body, dict) and excinfo.value.body["message"]
    assert fake.requests() == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic c2stbWFzdGVy"},
                                     {"Authorization": "Bearer"}, {"api-key": "nope"}])
def test_missing_or_malformed_credentials_are_401(master_gateway, fake, headers):
    response = requests.post(master_gateway.url + "/v1/chat/completions", json=CHAT,
                             headers=headers, timeout=30)

    assert_error_body(response, 401)
    assert fake.requests() == []


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/models"), ("GET", "/models"), ("GET", "/v1/models/demo"),
    ("POST", "/v1/embeddings"), ("POST", "/embeddings"), ("POST", "/v1/completions"),
    ("POST", "/completions"), ("POST", "/chat/completions"),
])
def test_every_api_route_needs_the_key(master_gateway, method, path):
    response = requests.request(method, master_gateway.url + path, timeout=30,
                                json={"model": "demo", "input": "x", "prompt": "x"}
                                if method == "POST" else None)

    assert_error_body(response, 401)


def test_streaming_needs_the_key(master_gateway, fake):
    with master_gateway.client(api_key="sk-wrong") as client, \
            pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True)
    assert fake.requests() == []


def test_models_and_embeddings_with_the_key(master_gateway):
    with master_gateway.client(api_key=MASTER_KEY) as client:
        assert {m.id for m in client.models.list()} == {"gpt-3.5-turbo", "demo"}
        assert client.embeddings.create(model="demo", input="x").data[0].embedding


def test_user_api_key_override_still_needs_master_key(master_gateway, fake):
    with master_gateway.client(api_key="sk-wrong") as client, \
            pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"api_key": "sk-user"})
    assert fake.requests() == []


@pytest.mark.parametrize("path", ["/health/liveliness", "/health/readiness"])
def test_health_is_open(master_gateway, path):
    assert requests.get(master_gateway.url + path, timeout=10).status_code == 200
