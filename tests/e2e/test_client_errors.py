"""Bad requests from clients: always an OpenAI error object with a 4xx, never a 500.

Nothing here may reach the upstream.
"""
import json

import openai
import pytest
import requests

from .helpers import assert_error_body

HELLO = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"


def post_raw(gateway, data, content_type="application/json", path=CHAT):
    """POST raw bytes to the gateway."""
    return requests.post(gateway.url + path, data=data, headers={"Content-Type": content_type},
                         timeout=30)


def chat_body(**fields):
    """A valid chat body with fields replaced."""
    return {"model": "gpt-3.5-turbo", "messages": HELLO, **fields}


@pytest.mark.parametrize("data", [b"{not json", b"", b"[]", b"null", b'"text"', b"42",
                                  b'{"model": "gpt-3.5-turbo", "messages": []',
                                  b'{"model": "gpt-3.5-turbo"} trailing'])
def test_invalid_or_non_object_json_is_400(gateway, fake, data):
    assert_error_body(post_raw(gateway, data), 400)
    assert fake.requests() == []


@pytest.mark.parametrize("path", [CHAT, "/v1/embeddings", "/v1/completions"])
def test_wrong_content_type_is_400_or_415(gateway, fake, path):
    body = json.dumps(chat_body(input="x", prompt="x")).encode()
    response = post_raw(gateway, body, content_type="text/plain", path=path)

    assert response.status_code in (400, 415), response.text
    assert_error_body(response, response.status_code)
    assert fake.requests() == []


def test_body_over_max_request_size_is_413(gateway, fake):
    big = chat_body(messages=[{"role": "user", "content": "x" * (3 * 1024 * 1024 // 2)}])
    response = requests.post(gateway.url + CHAT, json=big, timeout=30)

    assert_error_body(response, 413)
    assert fake.requests() == []


def test_body_just_under_max_request_size_is_accepted(gateway, fake):
    body = chat_body(messages=[{"role": "user", "content": "x" * 900_000}])
    response = requests.post(gateway.url + CHAT, json=body, timeout=30)

    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize("fields,param", [
    ({"temperature": 5}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"max_tokens": "many"}, "max_tokens"),
    ({"stream": "yes"}, "stream"),
    ({"n": "two"}, "n"),
    ({"messages": None}, "messages"),
    ({"model": 42}, "model"),
])
def test_schema_violation_names_the_param(gateway, fake, fields, param):
    response = requests.post(gateway.url + CHAT, json=chat_body(**fields), timeout=30)

    assert_error_body(response, 400, param=param)
    assert fake.requests() == []


def test_schema_violation_via_sdk(client, fake):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, temperature=5)

    assert excinfo.value.param == "temperature"
    assert fake.requests() == []


@pytest.mark.parametrize("body,param", [
    ({"messages": HELLO}, "model"),
    ({"model": "gpt-3.5-turbo"}, "messages"),
])
def test_missing_required_field(gateway, fake, body, param):
    response = requests.post(gateway.url + CHAT, json=body, timeout=30)

    assert_error_body(response, 400, param=param)


@pytest.mark.parametrize("path,body", [
    ("/v1/embeddings", {"model": "text-embedding-ada-002"}),
    ("/v1/embeddings", {"model": "text-embedding-ada-002", "input": {"a": 1}}),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "x", "temperature": 9}),
])
def test_other_endpoints_validate_too(gateway, fake, path, body):
    assert_error_body(requests.post(gateway.url + path, json=body, timeout=30), 400)
    assert fake.requests() == []


@pytest.mark.parametrize("method", ["chat", "embeddings", "completions"])
def test_unknown_model_is_404_model_not_found(client, fake, method):
    calls = {
        "chat": lambda: client.chat.completions.create(model="no-such-model", messages=HELLO),
        "embeddings": lambda: client.embeddings.create(model="no-such-model", input="x"),
        "completions": lambda: client.completions.create(model="no-such-model", prompt="x"),
    }
    with pytest.raises(openai.NotFoundError) as excinfo:
        calls[method]()

    assert excinfo.value.status_code == 404
    assert excinfo.value.code == "model_not_found"
    assert fake.requests() == []


def test_unknown_model_stream_is_404(client, fake):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.chat.completions.create(model="no-such-model", messages=HELLO, stream=True)
    assert excinfo.value.code == "model_not_found"


@pytest.mark.parametrize("method,path", [("GET", "/v1/nope"), ("POST", "/v1/nope"),
                                         ("GET", "/nope"), ("POST", "/v2/chat/completions")])
def test_unknown_route_is_404_json(gateway, method, path):
    response = requests.request(method, gateway.url + path, json={}, timeout=10)

    assert_error_body(response, 404)


@pytest.mark.parametrize("method,path", [("GET", CHAT), ("GET", "/chat/completions"),
                                         ("GET", "/v1/embeddings"), ("PUT", CHAT),
                                         ("DELETE", "/v1/completions"), ("POST", "/v1/models")])
def test_wrong_method_is_405_json(gateway, method, path):
    response = requests.request(method, gateway.url + path, timeout=10)

    assert_error_body(response, 405)


DEEP = "[" * 2000 + "]" * 2000
MALFORMED = {
    "nan literal": b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}],'
                   b' "temperature": NaN}',
    "infinity literal": b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", '
                        b'"content": "hi"}], "temperature": Infinity}',
    "overflowing float": b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", '
                         b'"content": "hi"}], "temperature": 1e999}',
    "invalid utf-8": b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", '
                     b'"content": "\xff\xfe\xc3"}]}',
    "deep arrays in content": ('{"model": "gpt-3.5-turbo", "messages": [{"role": "user", '
                               '"content": ' + DEEP + '}]}').encode(),
    "deep arrays as messages": ('{"model": "gpt-3.5-turbo", "messages": ' + DEEP + '}').encode(),
    "deep objects": ('{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}],'
                     ' "metadata": ' + '{"a": ' * 2000 + '1' + '}' * 2000 + '}').encode(),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_input_is_400(gateway, fake, name):
    assert_error_body(post_raw(gateway, MALFORMED[name]), 400)
    assert fake.requests() == []


@pytest.mark.parametrize("messages", [
    "hi",
    [1],
    [None],
    [["user", "hi"]],
    [{"role": "user", "content": 5}],
    [{"role": "user", "content": {"text": "hi"}}],
    [{"role": 5, "content": "hi"}],
    [{"role": "user", "content": [{"type": "text", "text": 5}]}],
    [{"role": "user", "content": [1, 2]}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": 7}]}],
    [{"role": "assistant", "content": "x", "tool_calls": "nope"}],
    [{"role": "user", "content": "hi", "name": ["x"]}],
])
def test_wrong_types_inside_messages_are_400(gateway, fake, messages):
    response = requests.post(gateway.url + CHAT, json=chat_body(messages=messages), timeout=30)

    error = assert_error_body(response, 400)
    assert error["param"] is None or error["param"].startswith("messages")
    assert fake.requests() == []


@pytest.mark.parametrize("model", ["demo", "gpt-3.5-turbo"])
def test_invalid_requests_are_400_for_mock_models_too(gateway, model):
    body = {"model": model, "messages": [{"role": "user", "content": 5}]}
    assert_error_body(requests.post(gateway.url + CHAT, json=body, timeout=30), 400)


def test_lone_surrogate_escape_is_never_a_500(gateway):
    # Valid JSON, invalid Unicode: refusing (400) or passing it on (200) are both fine.
    data = b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "\\ud800"}]}'
    response = post_raw(gateway, data)

    assert response.status_code in (200, 400), response.text
