"""Client-side credentials in the body: api_key always, api_base only when the config allows it."""
import openai
import pytest

from .helpers import UPSTREAM_KEY, model, start_gateway

HELLO = [{"role": "user", "content": "hi"}]


def creds_config(fake_base, allow_private):
    """A gateway that lets clients pass api_base (and maybe private bases)."""
    return {
        "model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake_base,
                             api_key=UPSTREAM_KEY)],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"allow_client_side_credentials": True,
                             "allow_private_api_base": allow_private},
    }


@pytest.fixture(scope="module")
def creds_gateway(tmp_path_factory, fake_upstream):
    """allow_client_side_credentials, but private bases still refused."""
    gw = start_gateway(tmp_path_factory.mktemp("gw-creds"), creds_config(fake_upstream.base, False))
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def private_gateway(tmp_path_factory, fake_upstream):
    """allow_client_side_credentials and allow_private_api_base."""
    gw = start_gateway(tmp_path_factory.mktemp("gw-private"),
                       creds_config(fake_upstream.base, True))
    yield gw
    gw.stop()


def test_user_key_on_stream_and_embeddings(client, fake):
    list(client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True,
                                        extra_body={"api_key": "sk-user-stream"}))
    client.embeddings.create(model="text-embedding-ada-002", input="x",
                             extra_body={"api_key": "sk-user-embed"})

    chat, embed = fake.requests()
    assert chat["headers"]["authorization"] == "Bearer sk-user-stream"
    assert embed["headers"]["authorization"] == "Bearer sk-user-embed"
    assert "api_key" not in chat["body"] and "api_key" not in embed["body"]


@pytest.mark.parametrize("override,params", [
    ({"api_base": "https://api.example.com/v1"}, ("api_base",)),
    ({"base_url": "https://api.example.com/v1"}, ("api_base", "base_url")),
    ({"api_version": "2024-02-01"}, ("api_version", "api_base")),
])
def test_base_overrides_refused_without_allow_client_side_credentials(client, fake, override,
                                                                     params):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, extra_body=override)

    assert excinfo.value.status_code == 400
    assert excinfo.value.param in params
    assert fake.requests() == []


def test_api_base_refused_for_embeddings_too(client, fake):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.embeddings.create(model="text-embedding-ada-002", input="x",
                                 extra_body={"api_base": "https://api.example.com/v1"})
    assert excinfo.value.param == "api_base"
    assert fake.requests() == []


def private_bases(fake):
    """Spellings of loopback, private and link-local addresses a client might try."""
    port = fake.url.rsplit(":", 1)[1]
    return [fake.base, f"http://localhost:{port}/v1", f"http://0.0.0.0:{port}/v1",
            f"http://[::1]:{port}/v1", "http://10.0.0.1/v1", "http://192.168.1.10/v1",
            "http://172.16.0.5/v1", "http://169.254.169.254/latest/meta-data",
            f"http://2130706433:{port}/v1", f"http://127.1:{port}/v1",
            f"http://[::ffff:127.0.0.1]:{port}/v1"]


def test_private_api_base_refused(creds_gateway, fake):
    with creds_gateway.client() as client:
        for base in private_bases(fake):
            with pytest.raises(openai.BadRequestError) as excinfo:
                client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                               extra_body={"api_base": base})
            assert excinfo.value.param == "api_base", base
    assert fake.requests() == []


def test_private_base_url_alias_refused(creds_gateway, fake):
    with creds_gateway.client() as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"base_url": fake.base})
    assert fake.requests() == []


@pytest.mark.parametrize("base", ["not a url", "ftp://example.com/v1", "file:///etc/passwd"])
def test_nonsense_api_base_refused(creds_gateway, fake, base):
    with creds_gateway.client() as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"api_base": base})
    assert fake.requests() == []


def test_private_api_base_used_when_allowed(private_gateway, fake):
    with private_gateway.client() as client:
        response = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=HELLO,
            extra_body={"api_base": fake.url + "/custom/v1", "api_key": "sk-client"})

    assert response.choices[0].message.content == "echo: hi"
    [sent] = fake.requests()
    assert sent["path"] == "/custom/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer sk-client"
    assert "api_base" not in sent["body"] and "api_key" not in sent["body"]


def test_private_api_base_used_for_streams(private_gateway, fake):
    with private_gateway.client() as client:
        chunks = list(client.chat.completions.create(
            model="gpt-3.5-turbo", messages=HELLO, stream=True,
            extra_body={"base_url": fake.url + "/other/v1", "api_key": "sk-client-2"}))

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi"
    [sent] = fake.requests()
    assert sent["path"] == "/other/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer sk-client-2"


def test_configured_key_never_sent_to_a_client_chosen_base(private_gateway, fake):
    with private_gateway.client() as client:
        try:
            client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                           extra_body={"api_base": fake.url + "/evil/v1"})
        except openai.APIStatusError as exc:
            assert 400 <= exc.status_code < 500
    assert all(UPSTREAM_KEY not in str(r["headers"]) for r in fake.requests())


def test_configured_base_used_without_override(private_gateway, fake):
    with private_gateway.client() as client:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    [sent] = fake.requests()
    assert sent["path"] == "/v1/chat/completions"
