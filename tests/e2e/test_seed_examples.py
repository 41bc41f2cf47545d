"""The examples of LiteLLM's "Use with Langchain, OpenAI SDK, Curl" page, run unchanged.

Only the base URL differs (the page uses http://0.0.0.0:8000); the SDK calls, arguments and
extra_body shapes are the page's.
"""
import subprocess
import sys

import openai
import pytest
import requests

from .helpers import FAKE_KEY, UPSTREAM_KEY

POEM = [{"role": "user", "content": "this is a test request, write a short poem"}]
SEED_METADATA = {
    "generation_name": "ishaan-generation-openai-client",
    "generation_id": "openai-client-gen-id22",
    "trace_id": "openai-client-trace-id22",
    "trace_user_id": "openai-client-user-id2",
}


def test_chat_with_metadata(gateway, fake):
    client = openai.OpenAI(api_key="anything", base_url=gateway.url, max_retries=0)
    with client:
        response = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=POEM, extra_body={"metadata": SEED_METADATA})

    assert response.object == "chat.completion"
    assert response.id
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == "echo: " + POEM[0]["content"]
    assert response.choices[0].finish_reason == "stop"
    usage = response.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    [sent] = fake.requests("/chat/completions")
    assert sent["path"] == "/v1/chat/completions"
    assert "metadata" not in sent["body"]
    assert sent["body"]["messages"] == POEM
    assert sent["body"]["model"] == "gpt-3.5-turbo"
    assert sent["headers"]["authorization"] == f"Bearer {FAKE_KEY}"


def test_embeddings_base64_by_default(gateway, fake):
    client = openai.OpenAI(api_key="<proxy-api-key>", base_url=gateway.url, max_retries=0)
    with client:
        response = client.embeddings.create(input=["hello from litellm"],
                                            model="text-embedding-ada-002")

    [sent] = fake.requests("/embeddings")
    assert sent["body"]["encoding_format"] == "base64"  # what the SDK asks for by default
    assert sent["body"]["input"] == ["hello from litellm"]
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    expected = requests.post(fake.base + "/embeddings", timeout=5, json={
        "model": "text-embedding-ada-002", "input": ["hello from litellm"],
        "encoding_format": "float"}).json()["data"][0]["embedding"]
    assert response.object == "list"
    assert [d.index for d in response.data] == [0]
    assert response.data[0].embedding == expected  # the SDK decoded the base64 float32
    assert response.usage.prompt_tokens == response.usage.total_tokens > 0


SEED_MODULE_LEVEL = '''
import openai
from openai import OpenAI

# set base_url to your proxy server
# set api_key to send to proxy server
client = OpenAI(api_key="<proxy-api-key>", base_url="http://0.0.0.0:8000")

response = openai.embeddings.create(
input=["hello from litellm"],
model="text-embedding-ada-002"
)

print(response)
'''


def test_embeddings_module_level_example_verbatim(gateway, fake):
    # The page calls openai.embeddings (the module client), configured from the environment.
    env = {"OPENAI_BASE_URL": gateway.url, "OPENAI_API_KEY": "<proxy-api-key>",
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", SEED_MODULE_LEVEL], env=env, timeout=60,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "CreateEmbeddingResponse" in result.stdout
    assert "text-embedding-ada-002" in result.stdout
    assert len(fake.requests("/embeddings")) == 1


def test_user_api_key_reaches_upstream(gateway, fake):
    client = openai.OpenAI(api_key="sk-1234", base_url=gateway.url, max_retries=0)
    with client:
        response = client.chat.completions.create(model="gpt-3.5-turbo", messages=POEM,
                                                  extra_body={"api_key": "my-bad-key"})

    assert response.choices[0].message.content == "echo: " + POEM[0]["content"]
    [sent] = fake.requests("/chat/completions")
    assert sent["headers"]["authorization"] == "Bearer my-bad-key"
    assert "api_key" not in sent["body"]


def test_azure_style_overrides_refused_by_default(gateway, fake):
    client = openai.OpenAI(api_key="sk-1234", base_url=gateway.url, max_retries=0)
    with client, pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=POEM, extra_body={
            "api_key": "my-azure-key", "api_base": "my-azure-base",
            "api_version": "my-azure-version"})

    assert excinfo.value.status_code == 400
    assert excinfo.value.param in ("api_base", "api_version")
    assert fake.requests() == []
