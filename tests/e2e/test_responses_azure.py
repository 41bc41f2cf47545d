"""/v1/responses on Azure end to end: the openai SDK -> the real gateway -> a fake Azure resource.

Azure deployments get the Responses API itself (app/responses/native.py): the dated path
``/openai/responses?api-version=`` from 2025-03-01-preview, else the v1 path
``/openai/v1/responses``; the body's model is the deployment. The gateway keeps the
conversation: ``metadata`` and ``previous_response_id`` never go upstream (earlier turns are
replayed in ``input``, with ``store: false``), and retrieve / delete never reach Azure.
"""
import json

import anthropic
import openai
import pytest
import requests

from .helpers import MASTER_KEY, fake_fixtures, model, start_gateway

KEY = "azure-key-1"
DATED = "2025-04-01-preview"
LONG = " ".join(f"w{i}" for i in range(20))  # "echo: " + 20 words: more than 16 tokens
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                          "required": ["query"]}}

azure_upstream, fake = fake_fixtures("fake_azure.py", "azure_upstream")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, azure_upstream):
    """Azure deployments on each Responses path, plus the failing ones."""
    base = azure_upstream.url
    up = {"api_base": base, "api_key": KEY, "api_version": DATED}
    config = {
        "model_list": [
            model("az", "azure/gpt4o-prod", **up),
            model("az-v1", "azure/gpt4o-v1", **{**up, "api_version": "v1"}),
            model("az-preview", "azure/gpt4o-v1", **{**up, "api_version": "preview"}),
            model("az-ad", "azure/gpt4o-prod", api_base=base, azure_ad_token="ad-token-1",
                  api_version=DATED),
            model("bad-key", "azure/gpt4o-prod", **{**up, "api_key": "bad-key"}),
            model("missing", "azure/missing", **up),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
        "general_settings": {"master_key": MASTER_KEY, "allow_client_side_credentials": True,
                             "access_log": "off"},
    }
    data = tmp_path_factory.mktemp("azure-resp-data")
    gw = start_gateway(tmp_path_factory.mktemp("gw-azure-resp"), config,
                       env={"SWITCHBOARD_DATA_DIR": str(data)})
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    """An openai client on the gateway, with the master key."""
    with gateway.client(api_key=MASTER_KEY) as c:
        yield c


def sent_bodies(fake):
    """The bodies the fake received, in order."""
    return [r["body"] for r in fake.requests()]


def texts(items):
    """(role, text) of each message item of an upstream ``input``."""
    out = []
    for item in items:
        content = item.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content)
        out.append((item.get("role"), content))
    return out


def test_create_on_the_dated_path(client, fake):
    response = client.responses.create(model="az", input="hello there",
                                       instructions="Answer briefly.", metadata={"team": "a"})

    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.output_text == "echo: hello there"
    assert response.output[0].type == "message"
    assert response.output[0].content[0].type == "output_text"
    assert response.instructions == "Answer briefly." and response.metadata == {"team": "a"}
    assert response.store is True and response.model == "gpt-4o-2024-08-06"
    assert response.usage.total_tokens == response.usage.input_tokens \
        + response.usage.output_tokens > 0
    [sent] = fake.requests()
    assert sent["path"] == "/openai/responses" and sent["query"] == {"api-version": [DATED]}
    assert sent["headers"]["api-key"] == KEY and "authorization" not in sent["headers"]
    assert sent["body"] == {"model": "gpt4o-prod", "input": "hello there",
                            "instructions": "Answer briefly.", "store": False}


@pytest.mark.parametrize("name,query", [("az-v1", {}),
                                        ("az-preview", {"api-version": ["preview"]})])
def test_create_on_the_v1_path(client, fake, name, query):
    response = client.responses.create(model=name, input="v1 please")

    assert response.output_text == "echo: v1 please"
    [sent] = fake.requests()
    assert sent["path"] == "/openai/v1/responses" and sent["query"] == query
    assert sent["body"]["model"] == "gpt4o-v1"


def test_ad_token_and_client_overrides(client, fake):
    client.responses.create(model="az-ad", input="with a token")
    client.responses.create(model="az", input="my own key", extra_body={
        "api_key": "my-azure-key", "api_version": "v1"})

    ad, own = fake.requests()
    assert ad["headers"]["authorization"] == "Bearer ad-token-1" and "api-key" not in ad["headers"]
    assert own["headers"]["api-key"] == "my-azure-key" and own["path"] == "/openai/v1/responses"
    assert not {"api_key", "api_version"} & set(own["body"])


def test_function_call_round_trip(client, fake):
    first = client.responses.create(model="az", input="Paris", tools=[WEATHER])
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    assert json.loads(call.arguments) == {"query": "Paris"}

    second = client.responses.create(
        model="az", previous_response_id=first.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])

    assert second.output_text == "tool said: sunny" and second.previous_response_id == first.id
    body = sent_bodies(fake)[-1]
    assert "previous_response_id" not in body and body["tools"][0]["name"] == "get_weather"
    assert [i.get("type") for i in body["input"]] == ["message", "function_call",
                                                      "function_call_output"]
    assert body["input"][1]["call_id"] == body["input"][2]["call_id"] == call.call_id


def test_two_turns_replay_the_conversation(client, fake):
    first = client.responses.create(model="az", input="remember the word kiwi",
                                    instructions="Answer briefly.")
    second = client.responses.create(model="az", input="which word?",
                                     previous_response_id=first.id)

    assert second.status == "completed" and second.output_text == "echo: which word?"
    assert second.previous_response_id == first.id
    body = sent_bodies(fake)[-1]
    # Azure is not asked to chain: the gateway replays the stored turn and keeps nothing there.
    assert "previous_response_id" not in body and body["store"] is False
    assert "instructions" not in body  # instructions are not inherited
    assert texts(body["input"]) == [("user", "remember the word kiwi"),
                                    ("assistant", "echo: remember the word kiwi"),
                                    ("user", "which word?")]


def test_stream_rebuilds_the_final_response(client, fake):
    with client.responses.stream(model="az", input="stream this please",
                                 metadata={"m": "1"}) as stream:
        events = list(stream)
        final = stream.get_final_response()

    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert final.output_text == deltas == "echo: stream this please"
    assert final.status == "completed" and final.metadata == {"m": "1"}
    assert final.usage.total_tokens > 0
    [sent] = fake.requests()
    assert sent["body"]["stream"] is True and "metadata" not in sent["body"]
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_stream_function_call(client, fake):
    with client.responses.stream(model="az-v1", input="Rome", tools=[WEATHER]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()

    assert "response.function_call_arguments.done" in kinds
    [call] = final.output
    assert call.type == "function_call" and json.loads(call.arguments) == {"query": "Rome"}


def test_retrieve_input_items_delete_stay_in_the_gateway(gateway, client, fake):
    created = client.responses.create(model="az", input="keep me", metadata={"k": "v"})
    assert "metadata" not in sent_bodies(fake)[0]
    fake.reset()

    again = client.responses.retrieve(created.id)
    assert again.output_text == "echo: keep me" and again.metadata == {"k": "v"}
    items = client.responses.input_items.list(created.id)
    assert [i.content[0].text for i in items.data] == ["keep me"]
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    raw = requests.delete(f"{gateway.url}/v1/responses/{created.id}",
                          headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert raw.status_code == 404 and created.id in raw.json()["error"]["message"]
    assert fake.requests() == []


def test_max_output_tokens_is_incomplete(client, fake):
    response = client.responses.create(model="az", input=LONG, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    with client.responses.stream(model="az", input=LONG, max_output_tokens=16) as stream:
        events = list(stream)
    # (the SDK's get_final_response() wants response.completed, so read the last event)
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert [(r["path"], r["body"]["max_output_tokens"]) for r in fake.requests()] == [
        ("/openai/responses", 16)] * 2


def test_small_max_output_tokens_go_through_chat_completions(client, fake):
    # Below the Responses API's minimum of 16: the deployment's chat completions instead.
    response = client.responses.create(model="az", input="a b c", max_output_tokens=5)

    assert response.status == "completed" and response.output_text == "echo: a b c"
    [sent] = fake.requests()
    assert sent["path"] == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent["query"] == {"api-version": [DATED]} and sent["body"]["max_tokens"] == 5
    assert "metadata" not in sent["body"]


def test_stop_goes_through_chat_completions(client, fake):
    # The Responses API has no stop (Azure's would refuse it): chat completions honours it.
    response = client.responses.create(model="az", input="a b c", extra_body={"stop": ["END"]})

    assert response.status == "completed" and response.output_text == "echo: a b c"
    [sent] = fake.requests()
    assert sent["path"] == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent["body"]["stop"] == ["END"]


def test_messages_stop_sequences_and_small_max_tokens_use_chat(gateway, fake):
    with anthropic.Anthropic(api_key=MASTER_KEY, base_url=gateway.url, max_retries=0) as c:
        msg = c.messages.create(model="az", max_tokens=5, stop_sequences=["END"],
                                messages=[{"role": "user", "content": "hi"}])

    assert msg.content[0].text == "echo: hi"
    [sent] = fake.requests()
    assert sent["path"] == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent["body"]["stop"] == ["END"] and sent["body"]["max_tokens"] == 5


@pytest.mark.parametrize("headers,retry_after", [({"retry-after": "6"}, "6"),
                                                 ({"retry-after-ms": "2500"}, "2.5")])
def test_rate_limit_keeps_retry_after(client, fake, headers, retry_after):
    limited = {"status": 429, "headers": headers, "json": {"error": {
        "code": "429", "message": "Requests to the Responses_Create Operation have exceeded "
                                  "token rate limit. Please retry after 6 seconds."}}}
    fake.script(limited, limited)

    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="az", input="x")
    assert err.value.response.headers["retry-after"] == retry_after
    with pytest.raises(openai.RateLimitError) as err:
        with client.responses.stream(model="az", input="x") as stream:
            list(stream)
    assert err.value.response.headers["retry-after"] == retry_after


@pytest.mark.parametrize("name,text,exc,code", [
    ("bad-key", "x", openai.AuthenticationError, None),
    ("missing", "x", openai.NotFoundError, "model_not_found"),
    ("az", "FILTER_ME", openai.BadRequestError, "content_policy_violation"),
])
def test_azure_errors(client, fake, name, text, exc, code):
    with pytest.raises(exc) as err:
        client.responses.create(model=name, input=text)
    if code:
        assert err.value.code == code
    assert [r["path"] for r in fake.requests()] == ["/openai/responses"]


def test_no_internal_errors_were_logged(gateway):
    assert "Traceback" not in gateway.stderr() + gateway.stdout()
