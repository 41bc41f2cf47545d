"""/v1/messages and /v1/responses against the provider families their own suites do not cover
(Bedrock, Cohere, Ollama, Azure): the official SDKs -> the real gateway -> each local fake,
translated through the chat pipeline and back (but /v1/messages to Bedrock Claude, which is
native: tests/e2e/test_messages_bedrock.py covers it in depth)."""
import json

import anthropic
import openai
import pytest

from .helpers import MASTER_KEY, model, run_fake, start_gateway

AWS = {"aws_region_name": "eu-west-1", "aws_access_key_id": "AKIDFAKEEXAMPLE",
       "aws_secret_access_key": "fake/secret/key+EXAMPLE"}
FAKES = {"bedrock": "fake_bedrock.py", "cohere": "fake_cohere.py", "ollama": "fake_ollama.py",
         "azure": "fake_azure.py"}
# model name -> its fake; "bedrock" is Claude (native on /v1/messages), "bedrock-nova" translated
MODELS = {**{name: name for name in FAKES}, "bedrock-nova": "bedrock"}


@pytest.fixture(scope="module")
def fakes():
    with run_fake(FAKES["bedrock"]) as bedrock, run_fake(FAKES["cohere"]) as cohere, \
            run_fake(FAKES["ollama"]) as ollama, run_fake(FAKES["azure"]) as azure:
        yield {"bedrock": bedrock, "cohere": cohere, "ollama": ollama, "azure": azure}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fakes):
    config = {
        "model_list": [
            model("bedrock", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
                  api_base=fakes["bedrock"].url, **AWS),
            model("bedrock-nova", "bedrock/amazon.nova-lite-v1:0", api_base=fakes["bedrock"].url,
                  **AWS),
            model("cohere", "cohere/command-r-plus", api_key="co-e2e-key",
                  api_base=fakes["cohere"].url),
            model("ollama", "ollama_chat/llama3.2", api_base=fakes["ollama"].url),
            model("azure", "azure/gpt4o-prod", api_base=fakes["azure"].url,
                  api_key="azure-key-1", api_version="2024-10-21"),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-doors-providers"), config)
    yield gw
    gw.stop()


def last_body(fake):
    """The body of the last API request the fake received, as text."""
    return json.dumps(fake.requests()[-1]["body"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_messages_text_and_stream(gateway, fakes, name):
    fake = fakes[MODELS[name]]
    fake.reset()
    with anthropic.Anthropic(api_key=MASTER_KEY, base_url=gateway.url, max_retries=0) as c:
        msg = c.messages.create(model=name, max_tokens=64, system="Be brief.",
                                messages=[{"role": "user", "content": "hello from messages"}])
        assert msg.id.startswith("msg_") and msg.type == "message" and msg.role == "assistant"
        assert msg.content[0].type == "text" and msg.content[0].text
        assert msg.stop_reason == "end_turn" and msg.usage.output_tokens > 0
        assert "hello from messages" in last_body(fake)
        with c.messages.stream(model=name, max_tokens=64,
                               messages=[{"role": "user", "content": "stream please"}]) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
    assert text and final.content[0].text == text and final.stop_reason == "end_turn"
    assert "stream please" in last_body(fake)
    if MODELS[name] == "bedrock":  # InvokeModel for Claude, Converse for Nova
        actions = [r["path"].rsplit("/", 1)[1] for r in fake.requests()]
        assert actions == (["invoke", "invoke-with-response-stream"] if name == "bedrock"
                           else ["converse", "converse-stream"])


# Azure gets the Responses API itself (its 2024-10-21 deployment: the v1 path), the others are
# translated through chat; test_responses_azure.py covers the Azure pass-through in detail.
@pytest.mark.parametrize("name", sorted(FAKES))
def test_responses_two_turns_and_stream(gateway, fakes, name):
    fakes[name].reset()
    with openai.OpenAI(api_key=MASTER_KEY, base_url=gateway.url + "/v1", max_retries=0) as c:
        first = c.responses.create(model=name, input="remember the word kiwi",
                                   instructions="Answer briefly.")
        assert first.id.startswith("resp_") and first.status == "completed"
        assert first.output_text and first.usage.total_tokens > 0
        second = c.responses.create(model=name, input="which word?",
                                    previous_response_id=first.id)
        assert second.status == "completed" and second.output_text
        sent = last_body(fakes[name])  # the earlier turn was replayed to the provider
        assert "remember the word kiwi" in sent and "which word?" in sent
        with c.responses.stream(model=name, input="stream a reply") as s:
            deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
            final = s.get_final_response()
        assert c.responses.retrieve(final.id).output_text == final.output_text
    assert deltas and final.status == "completed" and final.output_text == "".join(deltas)
    if name == "azure":
        assert {r["path"] for r in fakes[name].requests()} == {"/openai/v1/responses"}
