"""Upstream failures become OpenAI errors the SDK maps to its exception classes.

The shared gateway has num_retries 0, so each failure costs exactly one upstream request.
"""
import time

import openai
import pytest
import requests

from .helpers import assert_error_body

HELLO = [{"role": "user", "content": "hi"}]


def openai_error(message, type_="invalid_request_error", code=None, param=None):
    """OpenAI's error body."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


RATE_LIMIT = openai_error(
    "Rate limit reached for gpt-3.5-turbo in organization org-abc on requests per min (RPM): "
    "Limit 3, Used 3, Requested 1. Please try again in 20s.", "requests", "rate_limit_exceeded")
CONTEXT = openai_error(
    "This model's maximum context length is 4097 tokens. However, your messages resulted in "
    "5000 tokens. Please reduce the length of the messages.", code="context_length_exceeded",
    param="messages")

CASES = {
    "400": ({"status": 400, "json": openai_error("Invalid value for 'logit_bias'.",
                                                 param="logit_bias")},
            openai.BadRequestError, 400),
    "401": ({"status": 401, "json": openai_error("Incorrect API key provided: sk-xx.",
                                                 code="invalid_api_key")},
            openai.AuthenticationError, 401),
    "403": ({"status": 403, "json": openai_error("Country, region, or territory not supported",
                                                 "request_forbidden", "unsupported_country")},
            openai.PermissionDeniedError, 403),
    "404": ({"status": 404, "json": openai_error("The model `gpt-9` does not exist",
                                                 code="model_not_found")},
            openai.NotFoundError, 404),
    "422": ({"status": 422, "json": openai_error("Unprocessable entity")},
            openai.UnprocessableEntityError, 422),
    "429": ({"status": 429, "headers": {"Retry-After": "7"}, "json": RATE_LIMIT},
            openai.RateLimitError, 429),
    "500": ({"status": 500, "json": openai_error("The server had an error while processing your "
                                                 "request. Sorry about that!", "server_error")},
            openai.InternalServerError, 500),
    "503": ({"status": 503, "json": openai_error("The engine is currently overloaded, please try "
                                                 "again later", "server_error")},
            openai.InternalServerError, 503),
}


@pytest.mark.parametrize("case", list(CASES))
def test_upstream_status_maps_to_sdk_exception(client, fake, case):
    script, exception, status = CASES[case]
    fake.script(script)
    with pytest.raises(exception) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.status_code == status
    assert isinstance(excinfo.value.body, dict)
    assert excinfo.value.body["message"]
    assert {"type", "param", "code"} <= set(excinfo.value.body)
    assert len(fake.requests("/chat/completions")) == 1


@pytest.mark.parametrize("case", list(CASES))
def test_upstream_status_before_first_byte_of_a_stream(client, fake, case):
    script, exception, status = CASES[case]
    fake.script(script)
    with pytest.raises(exception) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True)

    assert excinfo.value.status_code == status


def test_rate_limit_passes_retry_after(gateway, fake):
    fake.script(CASES["429"][0])
    response = requests.post(gateway.url + "/v1/chat/completions", timeout=30,
                             json={"model": "gpt-3.5-turbo", "messages": HELLO})

    assert_error_body(response, 429)
    assert response.headers["Retry-After"] == "7"


def test_context_length_exceeded_keeps_its_code(client, fake):
    fake.script({"status": 400, "json": CONTEXT})
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.code == "context_length_exceeded"
    assert "maximum context length" in excinfo.value.message


def test_bad_configured_key_is_authentication_error(client, fake):
    with pytest.raises(openai.AuthenticationError) as excinfo:
        client.chat.completions.create(model="bad-key", messages=HELLO)

    assert excinfo.value.status_code == 401
    [sent] = fake.requests("/chat/completions")
    assert sent["headers"]["authorization"] == "Bearer sk-bad"


def test_bad_user_key_is_authentication_error(client, fake):
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"api_key": "sk-bad"})


def test_upstream_timeout_is_504_or_408(client, fake):
    fake.script({"delay_ms": 3000})
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as excinfo:
        client.chat.completions.create(model="slow", messages=HELLO)

    assert excinfo.value.status_code in (504, 408)
    assert time.monotonic() - started < 2.8  # the deployment's timeout (1 s) applied
    assert excinfo.value.body["message"]


def test_per_request_timeout_in_extra_body(client, fake):
    fake.script({"delay_ms": 3000})
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"timeout": 1})

    assert excinfo.value.status_code in (504, 408)
    assert time.monotonic() - started < 2.8
    assert "timeout" not in fake.requests()[0]["body"]


def test_upstream_timeout_on_stream_open(client, fake):
    fake.script({"delay_ms": 3000})
    with pytest.raises(openai.APIStatusError) as excinfo:
        client.chat.completions.create(model="slow", messages=HELLO, stream=True)

    assert excinfo.value.status_code in (504, 408)


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_unreachable_is_502_or_503(client, fake, stream):
    with pytest.raises(openai.InternalServerError) as excinfo:
        client.chat.completions.create(model="unreachable", messages=HELLO, stream=stream)

    assert excinfo.value.status_code in (502, 503)
    assert excinfo.value.body["message"]


def test_upstream_redirect_is_502_and_not_followed(client, fake):
    fake.script({"status": 302, "headers": {"Location": fake.url + "/v1/redirected"}, "json": {}})
    with pytest.raises(openai.InternalServerError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.status_code == 502
    assert [r["path"] for r in fake.requests()] == ["/v1/chat/completions"]


@pytest.mark.parametrize("status", [301, 307, 308])
def test_other_redirects_are_502_too(gateway, fake, status):
    fake.script({"status": status, "headers": {"Location": fake.url + "/v1/redirected"}})
    response = requests.post(gateway.url + "/v1/chat/completions", timeout=30,
                             json={"model": "gpt-3.5-turbo", "messages": HELLO})

    assert_error_body(response, 502)
    assert [r["path"] for r in fake.requests()] == ["/v1/chat/completions"]


def test_upstream_200_non_json_is_502(client, fake):
    fake.script({"raw": "<html><body>Bad gateway</body></html>", "status": 200,
                 "content_type": "text/html"})
    with pytest.raises(openai.InternalServerError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.status_code == 502


def test_upstream_error_with_html_body_keeps_status(client, fake):
    fake.script({"raw": "<html>503 Service Temporarily Unavailable</html>", "status": 503})
    with pytest.raises(openai.InternalServerError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.status_code == 503
    assert isinstance(excinfo.value.body, dict)


def test_upstream_closing_the_socket_is_a_5xx(client, fake):
    fake.script({"close": True})
    with pytest.raises(openai.InternalServerError) as excinfo:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert excinfo.value.status_code in (502, 503)


@pytest.mark.parametrize("case,exception", [("400", openai.BadRequestError),
                                            ("429", openai.RateLimitError),
                                            ("503", openai.InternalServerError)])
def test_embeddings_errors_map_too(client, fake, case, exception):
    fake.script(CASES[case][0])
    with pytest.raises(exception) as excinfo:
        client.embeddings.create(model="text-embedding-ada-002", input="x")
    assert excinfo.value.status_code == CASES[case][2]


@pytest.mark.parametrize("case,exception", [("401", openai.AuthenticationError),
                                            ("500", openai.InternalServerError)])
def test_completions_errors_map_too(client, fake, case, exception):
    fake.script(CASES[case][0])
    with pytest.raises(exception) as excinfo:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x")
    assert excinfo.value.status_code == CASES[case][2]


def test_gateway_is_healthy_after_upstream_failures(client, fake):
    response = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
    assert response.choices[0].message.content == "echo: hi"
