"""/v1/responses end to end: the openai SDK -> the real gateway -> fake Anthropic and OpenAI.

Anthropic-backed models are translated through the chat form; the OpenAI deployment declared
``model_info.responses_api`` gets the Responses API passed through; a plain OpenAI-compatible
base only ever sees chat completions.
"""
import json

import openai
import pytest
import requests

from .helpers import MASTER_KEY, model, run_fake, start_gateway

ANT_KEY = "sk-ant-api03-e2e-key-0000"
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                          "required": ["query"]}}


@pytest.fixture(scope="module")
def anthropic_fake():
    with run_fake("fake_anthropic.py") as upstream:
        yield upstream


@pytest.fixture(scope="module")
def gemini_fake():
    with run_fake("fake_gemini.py") as upstream:
        yield upstream


@pytest.fixture
def ant(anthropic_fake):
    anthropic_fake.reset()
    yield anthropic_fake
    anthropic_fake.reset()


def config(ant_url, openai_base, gemini_url=None):
    return {
        "model_list": [
            *([model("gemini", "gemini/gemini-2.5-flash", api_base=gemini_url,
                     api_key="gm-key")] if gemini_url else []),
            model("claude", "anthropic/claude-sonnet-4-5", api_base=ant_url, api_key=ANT_KEY),
            {**model("gpt-native", "openai/gpt-4.1", api_base=openai_base, api_key="sk-up"),
             "model_info": {"responses_api": True}},
            model("gpt-chat", "openai/gpt-4o-mini", api_base=openai_base, api_key="sk-up"),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
        "general_settings": {"master_key": MASTER_KEY},
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("resp-data")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, anthropic_fake, fake_upstream, gemini_fake, data_dir):
    gw = start_gateway(tmp_path_factory.mktemp("gw-resp"),
                       config(anthropic_fake.url, fake_upstream.base, gemini_fake.url),
                       env={"SWITCHBOARD_DATA_DIR": str(data_dir)})
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    with gateway.client(api_key=MASTER_KEY) as c:
        yield c


def test_text_with_instructions_on_anthropic(client, ant):
    response = client.responses.create(model="claude", input="hello there",
                                       instructions="be brief", metadata={"team": "a"},
                                       max_output_tokens=50)
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.output_text == "echo: hello there"
    assert response.output[0].type == "message" and response.model == "claude"
    assert response.metadata == {"team": "a"}
    # the provider's own counts (the fake counts words of system + messages)
    assert response.usage.input_tokens == 4 and response.usage.output_tokens == 3
    assert response.usage.total_tokens == 7
    [sent] = ant.requests("/v1/messages")
    assert sent["body"]["system"] == "be brief" and "metadata" not in sent["body"]
    assert sent["body"]["messages"] == [{"role": "user", "content": "hello there"}]


def test_three_turns_through_previous_response_id(client, ant):
    first = client.responses.create(model="claude", input="one", instructions="first rules")
    second = client.responses.create(model="claude", input="two", previous_response_id=first.id)
    third = client.responses.create(model="claude", input="three",
                                    previous_response_id=second.id, instructions="third rules")
    assert third.output_text == "echo: three" and third.previous_response_id == second.id
    sent = ant.requests("/v1/messages")[-1]["body"]
    assert sent["system"] == "third rules"  # instructions are not inherited
    assert [(m["role"], m["content"] if isinstance(m["content"], str)
             else m["content"][0]["text"]) for m in sent["messages"]] == [
        ("user", "one"), ("assistant", "echo: one"), ("user", "two"),
        ("assistant", "echo: two"), ("user", "three")]


def test_function_tool_round_trip(client, ant):
    first = client.responses.create(model="claude", input="Paris", tools=[WEATHER])
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"query": "Paris"} and call.call_id
    second = client.responses.create(
        model="claude", previous_response_id=first.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert second.output_text == "tool said: sunny"
    messages = ant.requests("/v1/messages")[-1]["body"]["messages"]
    assert messages[1]["content"][0]["type"] == "tool_use"
    assert messages[2]["content"][0] == {"type": "tool_result", "tool_use_id": call.call_id,
                                         "content": "sunny"}


def test_json_schema_text_format(client, ant):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}},
              "required": ["answer"], "additionalProperties": False}
    response = client.responses.create(model="claude", input="hello", text={"format": {
        "type": "json_schema", "name": "reply", "schema": schema, "strict": True}})
    assert isinstance(json.loads(response.output_text), dict)
    sent = ant.requests("/v1/messages")[-1]["body"]
    assert sent["output_config"]["format"]["schema"] == schema


def test_stream_rebuilds_and_is_stored(client, ant):
    with client.responses.stream(model="claude", input="stream this please") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == "echo: stream this please" and final.status == "completed"
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(set(seqs)) and seqs[0] == 0
    assert final.usage.output_tokens == 4
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_stream_function_call(client, ant):
    with client.responses.stream(model="claude", input="Rome", tools=[WEATHER]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    [call] = final.output
    assert call.type == "function_call" and json.loads(call.arguments) == {"query": "Rome"}


def test_gemini_parallel_calls_streamed_then_answered(client, gemini_fake):
    gemini_fake.reset()
    with client.responses.stream(model="gemini", input="weather in two cities",
                                 tools=[WEATHER]) as stream:
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [json.loads(c.arguments) for c in calls] == [{"location": "Paris"},
                                                        {"location": "Rome"}]
    outputs = [{"type": "function_call_output", "call_id": c.call_id, "output": "{\"t\": 20}"}
               for c in calls]
    answer = client.responses.create(model="gemini", input=outputs, tools=[WEATHER],
                                      previous_response_id=final.id)
    assert answer.output_text.startswith("results: ")
    sent = gemini_fake.requests()[-1]["body"]
    assert [len(c["parts"]) for c in sent["contents"]] == [1, 2, 2]


def test_max_output_tokens_is_incomplete(client, ant):
    response = client.responses.create(model="claude", input="a b c d e f", max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    with client.responses.stream(model="claude", input="a b c d e f",
                                 max_output_tokens=2) as stream:
        kinds = [e.type for e in stream]
    assert kinds[-1] == "response.incomplete"


def test_passthrough_to_openai_responses(client, fake):
    response = client.responses.create(model="gpt-native", input="hi there",
                                       metadata={"k": "v"}, instructions="short",
                                       extra_body={"api_key": "sk-client-own-key"})
    assert response.output_text == "echo: hi there" and response.metadata == {"k": "v"}
    [sent] = fake.requests()
    assert sent["path"] == "/v1/responses"
    assert sent["body"]["model"] == "gpt-4.1" and "metadata" not in sent["body"]
    # a LiteLLM-style override is used for the call, never forwarded in the body
    assert sent["headers"]["authorization"] == "Bearer sk-client-own-key"
    assert "api_key" not in sent["body"]
    assert sent["body"]["instructions"] == "short"
    follow = client.responses.create(model="gpt-native", input="again",
                                     previous_response_id=response.id)
    replayed = fake.requests()[-1]["body"]
    assert "previous_response_id" not in replayed
    assert [i.get("role") for i in replayed["input"]] == ["user", "assistant", "user"]
    assert client.responses.retrieve(follow.id).output_text == "echo: again"


def test_passthrough_stream(client, fake):
    with client.responses.stream(model="gpt-native", input="stream native",
                                 metadata={"m": "1"}) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == "echo: stream native" and final.metadata == {"m": "1"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "metadata" not in fake.requests()[-1]["body"]
    assert client.responses.retrieve(final.id).status == "completed"


def test_passthrough_errors_keep_their_status(client, fake):
    fake.script({"status": 429, "headers": {"retry-after": "3"}, "json": {"error": {
        "message": "Rate limit reached", "type": "requests", "param": None,
        "code": "rate_limit_exceeded"}}})
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="gpt-native", input="x")
    assert err.value.response.headers["retry-after"] == "3"
    fake.script({"status": 400, "json": {"error": {
        "message": "Your input exceeds the context window of this model.",
        "type": "invalid_request_error", "param": "input",
        "code": "context_length_exceeded"}}})
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="gpt-native", input="x")
    assert err.value.code == "context_length_exceeded"


def test_small_max_output_tokens_and_generic_hosts_use_chat(client, fake):
    small = client.responses.create(model="gpt-native", input="a b c d e f g",
                                    max_output_tokens=5)
    generic = client.responses.create(model="gpt-chat", input="plain host")
    assert small.status in ("completed", "incomplete") and generic.output_text == "echo: plain host"
    assert [r["path"] for r in fake.requests()] == ["/v1/chat/completions"] * 2


def test_builtin_tools_refused_unless_openai(client, ant, fake):
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="claude", input="news", tools=[{"type": "web_search"}])
    assert "web_search" in err.value.message and err.value.body["param"] == "tools"
    assert ant.requests() == []
    client.responses.create(model="gpt-native", input="news", tools=[{"type": "web_search"}])
    assert fake.requests()[-1]["body"]["tools"] == [{"type": "web_search"}]


def test_retrieve_input_items_delete(client, ant):
    created = client.responses.create(model="claude", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "user", "content": "second"}])
    # Anthropic needs alternating roles: the two user turns reach it as one.
    assert client.responses.retrieve(created.id).output_text == "echo: first second"
    items = client.responses.input_items.list(created.id, order="asc")
    assert [i.content[0].text for i in items.data] == ["first", "second"]
    deleted = client.responses.delete(created.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    raw = requests.delete(f"{client.base_url}responses/{created.id}",
                          headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert raw.status_code == 404 and created.id in raw.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_delete_body(gateway, client, ant):
    created = client.responses.create(model="claude", input="bye")
    raw = requests.delete(f"{gateway.url}/v1/responses/{created.id}",
                          headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert raw.json() == {"id": created.id, "object": "response", "deleted": True}


def test_store_false_and_unknown_ids(client, ant):
    kept_out = client.responses.create(model="claude", input="secret", store=False)
    assert kept_out.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept_out.id)
    ant.reset()
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="claude", input="x", previous_response_id=kept_out.id)
    assert kept_out.id in err.value.message
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.retrieve("resp_doesnotexist")
    assert "resp_doesnotexist" in err.value.message
    assert ant.requests() == []


def test_errors_before_the_stream_are_http_statuses(gateway, client, ant):
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="nope", input="x")
    assert "nope" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="claude", input=[{"type": "message", "role": "bot",
                                                        "content": "x"}])
    assert err.value.body["param"] == "input[0].role"
    raw = requests.post(f"{gateway.url}/v1/responses", data=b"{not json",
                        headers={"Authorization": f"Bearer {MASTER_KEY}",
                                 "Content-Type": "application/json"}, timeout=10)
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    ant.script({"status": 429, "headers": {"retry-after": "7"},
                "json": {"type": "error", "error": {"type": "rate_limit_error",
                                                    "message": "slow down"}}})
    with pytest.raises(openai.RateLimitError) as err:
        with client.responses.stream(model="claude", input="x") as stream:
            list(stream)
    assert err.value.response.headers["retry-after"] == "7"
    ant.script({"status": 529, "json": {"type": "error", "error": {
        "type": "overloaded_error", "message": "busy"}}})
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="claude", input="x")


def test_failure_mid_stream_is_response_failed(client, ant):
    start = {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": None, "usage": {"input_tokens": 1, "output_tokens": 0}}}
    ant.script({"stream_events": [
        start, {"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": "partial"}}], "abort": True})
    with client.responses.stream(model="claude", input="x") as stream:
        kinds = [e.type for e in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.failed"


def test_wrong_key_is_401_without_provider_call(gateway, ant, fake):
    with gateway.client(api_key="sk-wrong") as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.responses.create(model="claude", input="x")
        with pytest.raises(openai.AuthenticationError):
            bad.responses.retrieve("resp_x")
        with pytest.raises(openai.AuthenticationError):
            bad.responses.delete("resp_x")
    assert requests.get(f"{gateway.url}/responses/resp_x", timeout=10).status_code == 401
    assert ant.requests() == [] and fake.requests() == []


def test_stored_responses_survive_a_restart(tmp_path, anthropic_fake, fake_upstream, data_dir,
                                            client, ant):
    created = client.responses.create(model="claude", input="remember me")
    again = start_gateway(tmp_path / "gw2", config(anthropic_fake.url, fake_upstream.base),
                          env={"SWITCHBOARD_DATA_DIR": str(data_dir)})
    try:
        with again.client(api_key=MASTER_KEY) as other:
            assert other.responses.retrieve(created.id).output_text == "echo: remember me"
            nxt = other.responses.create(model="claude", input="and now",
                                         previous_response_id=created.id)
        assert nxt.output_text == "echo: and now"
        assert len(ant.requests("/v1/messages")[-1]["body"]["messages"]) == 3
    finally:
        again.stop()


def test_no_internal_errors_were_logged(gateway):
    assert "Traceback" not in gateway.stderr() + gateway.stdout()
