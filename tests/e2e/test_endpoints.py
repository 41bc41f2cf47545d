"""Embeddings, text completions, the models list and the health routes."""
import base64
import struct

import openai
import pytest
import requests

from .helpers import UPSTREAM_KEY

PUBLIC_MODELS = {"gpt-3.5-turbo", "gpt-4o-mini", "text-embedding-ada-002",
                 "gpt-3.5-turbo-instruct", "demo", "mock-fixed", "bad-key", "slow",
                 "unreachable", "pair"}


def fake_vectors(fake, inputs, **extra):
    """The float vectors the fake upstream gives for inputs (asked directly)."""
    body = {"model": "text-embedding-ada-002", "input": inputs, "encoding_format": "float", **extra}
    data = requests.post(fake.base + "/embeddings", json=body, timeout=5).json()["data"]
    return [d["embedding"] for d in data]


def test_embeddings_float(client, fake):
    response = client.embeddings.create(model="text-embedding-ada-002", input=["a b", "c"],
                                        encoding_format="float")

    [sent] = fake.requests("/embeddings")
    assert sent["body"]["encoding_format"] == "float"
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert [d.index for d in response.data] == [0, 1]
    assert [d.embedding for d in response.data] == fake_vectors(fake, ["a b", "c"])
    assert response.usage.prompt_tokens == 3


def test_embeddings_base64_wire_format(gateway, fake):
    body = {"model": "text-embedding-ada-002", "input": "hi", "encoding_format": "base64"}
    response = requests.post(gateway.url + "/v1/embeddings", json=body, timeout=30)

    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    assert item["object"] == "embedding"
    assert isinstance(item["embedding"], str)
    raw = base64.b64decode(item["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == fake_vectors(fake, "hi")[0]


def test_embeddings_dimensions_forwarded(client, fake):
    response = client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=4)

    assert len(response.data[0].embedding) == 4
    assert fake.requests("/embeddings")[0]["body"]["dimensions"] == 4


def test_embeddings_without_v1(gateway, fake):
    body = {"model": "text-embedding-ada-002", "input": "hi", "encoding_format": "float"}
    response = requests.post(gateway.url + "/embeddings", json=body, timeout=30)

    assert response.status_code == 200, response.text
    assert response.json()["object"] == "list"


def test_text_completion(client, fake):
    response = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say this",
                                         max_tokens=7)

    assert response.object == "text_completion"
    assert response.choices[0].text == "echo: Say this"
    assert response.choices[0].finish_reason == "stop"
    [sent] = fake.requests("/completions")
    assert sent["path"] == "/v1/completions"
    assert sent["body"]["prompt"] == "Say this"
    assert sent["body"]["max_tokens"] == 7
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_text_completion_without_v1(gateway, fake):
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}
    response = requests.post(gateway.url + "/completions", json=body, timeout=30)

    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"] == "echo: hi"


def test_models_list(client):
    models = list(client.models.list())

    ids = [m.id for m in models]
    assert set(ids) == PUBLIC_MODELS
    assert len(ids) == len(set(ids))  # two deployments of "pair" are one model
    assert all(m.object == "model" and isinstance(m.created, int) and m.owned_by
               for m in models)


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
def test_models_list_wire_format(gateway, path):
    response = requests.get(gateway.url + path, timeout=10)

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == PUBLIC_MODELS


def test_model_retrieve(client, gateway):
    assert client.models.retrieve("demo").id == "demo"
    response = requests.get(gateway.url + "/models/gpt-3.5-turbo", timeout=10)
    assert response.status_code == 200
    assert response.json()["id"] == "gpt-3.5-turbo"
    assert response.json()["object"] == "model"


def test_model_retrieve_unknown(client):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.models.retrieve("no-such-model")
    assert excinfo.value.status_code == 404

