"""validate_chat: every documented body shape passes, every bad field is named by its JSON path."""
import copy
import random

import pytest

from app.chat.schemas import CHAT_REQUEST, validate_chat
from app.errors import InvalidRequestError

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False},
    "strict": True}}

# Real-shaped bodies, as the openai SDK and common clients send them.
VISION = {"model": "gpt-4o", "max_tokens": 300, "messages": [{"role": "user", "content": [
    {"type": "text", "text": "What's in this image?"},
    {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]}
TOOL_TURNS = {"model": "gpt-4o-mini", "tools": [WEATHER_TOOL], "tool_choice": "auto",
              "parallel_tool_calls": True, "messages": [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
        {"id": "call_2", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
    {"role": "assistant", "content": "Paris is 18C and sunny; Rome is 22C."},
    {"role": "user", "content": "Thanks"}]}
JSON_SCHEMA = {"model": "gpt-4o-2024-08-06", "messages": [
    {"role": "developer", "content": [{"type": "text", "text": "Extract the event."}]},
    {"role": "user", "content": "Alice and Bob are going to a science fair on Friday."}],
    "response_format": {"type": "json_schema", "json_schema": {
        "name": "calendar_event", "strict": True, "schema": {
            "type": "object", "additionalProperties": False, "required": ["name", "date"],
            "properties": {"name": {"type": "string"}, "date": {"type": "string"}}}}}}
EVERYTHING = {
    "model": "gpt-4o", "messages": [
        {"role": "system", "content": "Be brief.", "name": "rules"},
        {"role": "user", "name": "alice", "content": [
            {"type": "text", "text": "Listen", "cache_control": {"type": "ephemeral"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=",
                                      "filename": "a.pdf"}},
            {"type": "file", "file": {"file_id": "file-abc"}},
            {"type": "text", "text": "cached",
             "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "30m"}}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"},
                                          {"type": "refusal", "refusal": "No."}]},
        {"role": "assistant", "content": None, "audio": {"id": "audio_1"}},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": None},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
        {"role": "user", "content": "", "reasoning_content": "provider-specific"}],
    "temperature": 0, "top_p": 1, "n": 2, "stop": ["\n", "END"], "max_tokens": None,
    "max_completion_tokens": 1000, "presence_penalty": -2, "frequency_penalty": 1.5,
    "logit_bias": {"50256": -100, "1234": 0.5}, "logprobs": True, "top_logprobs": 20,
    "seed": -42, "user": "user-1", "stream": True,
    "stream_options": {"include_usage": True, "include_obfuscation": False},
    "tools": [WEATHER_TOOL, {"type": "function", "function": {"name": "no-params_1"}},
              {"type": "custom", "custom": {"name": "sql", "description": "Run SQL",
                                            "format": {"type": "text"}}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "functions": [{"name": "f", "parameters": {"type": "object"}}],
    "function_call": {"name": "f"},
    "response_format": {"type": "json_object"}, "reasoning_effort": "minimal",
    "service_tier": "flex", "store": False, "modalities": ["text", "audio"],
    "prediction": {"type": "content", "content": [{"type": "text", "text": "old code"}]},
    "audio": {"voice": "alloy", "format": "mp3"}, "verbosity": "low",
    "web_search_options": {"search_context_size": "high", "user_location": {
        "type": "approximate", "approximate": {"city": "Paris", "country": "FR"}}},
    "prompt_cache_key": "k", "prompt_cache_retention": "24h",
    "prompt_cache_options": {"mode": "explicit", "ttl": "30m"}, "safety_identifier": "h4sh",
    "moderation": {"model": "omni-moderation-latest", "policy": None},
    # provider-specific parameters pass through untouched
    "top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 1024}, "extra_body": [1, {}]}
NULLS = {"model": "m", "messages": [{"role": "user", "content": "x"}], **{
    k: None for k in ("temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens",
                      "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
                      "top_logprobs", "seed", "stream", "stream_options", "reasoning_effort",
                      "service_tier", "store", "modalities", "prediction", "audio", "verbosity",
                      "prompt_cache_key", "safety_identifier", "moderation")}}
VALID = [
    {"model": "gpt-3.5-turbo", "max_tokens": 50,
     "messages": [{"role": "user", "content": "this is a test request, write a short poem"}]},
    VISION, TOOL_TURNS, JSON_SCHEMA, EVERYTHING, NULLS,
    {"model": "m", "messages": [{"role": "user", "content": "x"}],
     "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [
         {"type": "function", "function": {"name": "get_weather"}}]}}},
    {"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": "\n",
     "tool_choice": {"type": "custom", "custom": {"name": "sql"}}, "function_call": "none",
     "response_format": {"type": "text"}, "audio": {"voice": {"id": "voice_1"}, "format": "wav"},
     "prediction": {"type": "content", "content": "old code"}},
]


def error_of(body):
    """The InvalidRequestError validate_chat raises for ``body``."""
    with pytest.raises(InvalidRequestError) as info:
        validate_chat(body)
    assert info.value.status == 400
    return info.value


def chat(**params):
    """A valid minimal body with ``params`` merged in."""
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **params}


def msgs(*messages):
    """A body with these messages."""
    return {"model": "gpt-4o", "messages": list(messages)}


USER = {"role": "user", "content": "q"}


def with_call(**call):
    """A conversation whose third message is an assistant tool call with ``call`` merged in."""
    tool_call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return msgs(USER, {"role": "assistant", "content": "ok"},
                {"role": "assistant", "tool_calls": [{**tool_call, **call}]})


@pytest.mark.parametrize("body", VALID)
def test_valid_bodies_pass_unchanged(body):
    before = copy.deepcopy(body)
    assert validate_chat(body) is None
    assert body == before


def test_deeply_nested_tool_parameters_are_not_walked():
    schema = leaf = {}
    for _ in range(50_000):  # far deeper than Python's recursion limit
        leaf["items"] = leaf = {"type": "array"}
    validate_chat(chat(tools=[{"type": "function", "function": {"name": "f", "parameters": schema}}],
                       response_format={"type": "json_schema",
                                        "json_schema": {"name": "n", "schema": schema}}))


def test_huge_strings_are_cheap_and_not_echoed():
    huge = "a" * 5_000_000
    validate_chat(chat(user=huge, messages=[{"role": "user", "content": huge}]))
    err = error_of(chat(tools=[{"type": "function", "function": {"name": huge + " "}}]))
    assert err.param == "tools[0].function.name"
    assert len(err.message) < 200
    err = error_of(chat(logit_bias={huge: 1}))
    assert err.param == "logit_bias"
    assert len(err.message) < 200


@pytest.mark.parametrize("body, message", [
    ({"messages": []}, "'model' is a required property."),
    (chat(temperature=2.5), "Invalid value for 'temperature': must be between 0 and 2."),
    (msgs({"role": "user", "content": 5}),
     "Invalid type for 'messages[0].content': expected a string or an array of content parts, "
     "but got an integer instead."),
    (msgs({"role": "robot", "content": "x"}),
     "Invalid value for 'messages[0].role': expected one of 'system', 'developer', 'user', "
     "'assistant', 'tool' or 'function'."),
    (chat(max_tokens=1.0),
     "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."),
    (chat(stream="true"), "Invalid type for 'stream': expected a boolean, but got a string instead."),
    (chat(n=True), "Invalid type for 'n': expected an integer, but got a boolean instead."),
    (chat(top_p=None, presence_penalty=float("nan")),
     "Invalid value for 'presence_penalty': must be a finite number."),
    (chat(messages=[]), "Invalid value for 'messages': must not be empty."),
    (chat(stop=list("abcde")), "Invalid value for 'stop': must have at most 4 items."),
    (chat(user=None), "Invalid type for 'user': expected a string, but got null instead."),
])
def test_messages_name_the_field(body, message):
    err = error_of(body)
    assert err.message == message
    assert err.body()["error"]["type"] == "invalid_request_error"


MESSAGE_CASES = [
    # (body, param)
    ({"model": "m"}, "messages"),
    ({"model": "", "messages": [USER]}, "model"),
    ({"model": 4, "messages": [USER]}, "model"),
    ({"model": "m", "messages": "hello"}, "messages"),
    ({"model": "m", "messages": {"role": "user"}}, "messages"),
    (msgs(5), "messages[0]"),
    (msgs(USER, None), "messages[1]"),
    (msgs(["user", "hi"]), "messages[0]"),
    (msgs({"content": "hi"}), "messages[0].role"),
    (msgs({"role": None, "content": "hi"}), "messages[0].role"),
    (msgs({"role": ["user"], "content": "hi"}), "messages[0].role"),
    (msgs({"role": "User", "content": "hi"}), "messages[0].role"),
    (msgs({"role": "user"}), "messages[0].content"),
    (msgs({"role": "user", "content": None}), "messages[0].content"),
    (msgs({"role": "user", "content": {"type": "text", "text": "x"}}), "messages[0].content"),
    (msgs({"role": "user", "content": []}), "messages[0].content"),
    (msgs({"role": "user", "content": ["hi"]}), "messages[0].content[0]"),
    (msgs({"role": "user", "content": [{"text": "hi"}]}), "messages[0].content[0].type"),
    (msgs({"role": "user", "content": [{"type": "text"}]}), "messages[0].content[0].text"),
    (msgs({"role": "user", "content": [{"type": "text", "text": None}]}),
     "messages[0].content[0].text"),
    (msgs({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "video"}]}),
     "messages[0].content[1].type"),
    (msgs({"role": "user", "content": [{"type": "image_url", "image_url": PNG}]}),
     "messages[0].content[0].image_url"),
    (msgs({"role": "user", "content": [{"type": "image_url", "image_url": {"detail": "low"}}]}),
     "messages[0].content[0].image_url.url"),
    (msgs({"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": PNG, "detail": "ultra"}}]}),
     "messages[0].content[0].image_url.detail"),
    (msgs({"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}]}),
     "messages[0].content[0].input_audio.format"),
    (msgs({"role": "user", "content": [{"type": "input_audio", "input_audio": {"format": "wav"}}]}),
     "messages[0].content[0].input_audio.data"),
    (msgs({"role": "user", "content": [{"type": "file", "file": {"file_id": 7}}]}),
     "messages[0].content[0].file.file_id"),
    (msgs({"role": "user", "content": [{"type": "file"}]}), "messages[0].content[0].file"),
    (msgs({"role": "user", "content": [{"type": "text", "text": "x",
                                         "prompt_cache_breakpoint": {"mode": "auto"}}]}),
     "messages[0].content[0].prompt_cache_breakpoint.mode"),
    (msgs({"role": "user", "content": "x", "name": 5}), "messages[0].name"),
    (msgs({"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}),
     "messages[0].content[0].type"),
    (msgs({"role": "developer", "content": None}), "messages[0].content"),
    (msgs(USER, {"role": "assistant"}), "messages[1].content"),
    (msgs(USER, {"role": "assistant", "content": None, "tool_calls": []}), "messages[1].content"),
    (msgs(USER, {"role": "assistant", "content": 3}), "messages[1].content"),
    (msgs(USER, {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}),
     "messages[1].content[0].type"),
    (msgs(USER, {"role": "assistant", "content": [{"type": "refusal"}]}),
     "messages[1].content[0].refusal"),
    (msgs(USER, {"role": "assistant", "content": "x", "refusal": 1}), "messages[1].refusal"),
    (msgs(USER, {"role": "assistant", "content": None, "audio": {}}), "messages[1].audio.id"),
    (msgs(USER, {"role": "assistant", "function_call": {"name": "f"}}),
     "messages[1].function_call.arguments"),
    (msgs(USER, {"role": "assistant", "tool_calls": {"id": "c1"}}), "messages[1].tool_calls"),
    (with_call(function={"arguments": "{}"}), "messages[2].tool_calls[0].function.name"),
    (with_call(function={"name": "f", "arguments": {"city": "Paris"}}),
     "messages[2].tool_calls[0].function.arguments"),
    (with_call(function=None), "messages[2].tool_calls[0].function"),
    (with_call(id=None), "messages[2].tool_calls[0].id"),
    (with_call(type="retrieval"), "messages[2].tool_calls[0].type"),
    (msgs(USER, {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom",
                                                      "custom": {"name": "sql"}}]}),
     "messages[1].tool_calls[0].custom.input"),
    (msgs(USER, {"role": "tool", "content": "18C"}), "messages[1].tool_call_id"),
    (msgs(USER, {"role": "tool", "tool_call_id": 1, "content": "18C"}), "messages[1].tool_call_id"),
    (msgs(USER, {"role": "tool", "tool_call_id": "c", "content": None}), "messages[1].content"),
    (msgs(USER, {"role": "function", "content": "x"}), "messages[1].name"),
    (msgs(USER, {"role": "function", "name": "f", "content": ["x"]}), "messages[1].content"),
]


@pytest.mark.parametrize("body, param", MESSAGE_CASES)
def test_bad_messages_are_named(body, param):
    assert error_of(body).param == param


BAD_PARAMS = [
    # (field, bad value, param)
    ("temperature", -0.1, "temperature"), ("temperature", "0.7", "temperature"),
    ("temperature", True, "temperature"), ("temperature", float("inf"), "temperature"),
    ("top_p", 1.01, "top_p"), ("n", 0, "n"), ("n", 129, "n"), ("n", "2", "n"),
    ("stop", 5, "stop"), ("stop", ["a", 1], "stop[1]"), ("stop", {"a": 1}, "stop"),
    ("max_tokens", 0, "max_tokens"), ("max_tokens", -1, "max_tokens"),
    ("max_tokens", "50", "max_tokens"), ("max_tokens", True, "max_tokens"),
    ("max_completion_tokens", 0, "max_completion_tokens"),
    ("presence_penalty", 2.01, "presence_penalty"),
    ("frequency_penalty", -3, "frequency_penalty"),
    ("logit_bias", [], "logit_bias"), ("logit_bias", {"abc": 1}, "logit_bias"),
    ("logit_bias", {"-5": 1}, "logit_bias"), ("logit_bias", {"١٢": 1}, "logit_bias"),
    ("logit_bias", {"123": 101}, "logit_bias.123"), ("logit_bias", {"1": "5"}, "logit_bias.1"),
    ("logprobs", 1, "logprobs"), ("logprobs", "true", "logprobs"),
    ("top_logprobs", 21, "top_logprobs"), ("top_logprobs", -1, "top_logprobs"),
    ("seed", 1.5, "seed"), ("seed", "1", "seed"), ("user", 5, "user"),
    ("stream", 1, "stream"), ("stream_options", [], "stream_options"),
    ("stream_options", {"include_usage": "yes"}, "stream_options.include_usage"),
    ("stream_options", {"include_obfuscation": 0}, "stream_options.include_obfuscation"),
    ("tools", WEATHER_TOOL, "tools"), ("tools", None, "tools"), ("tools", [None], "tools[0]"),
    ("tools", [WEATHER_TOOL, {"type": "function"}], "tools[1].function"),
    ("tools", [WEATHER_TOOL, {"type": "function", "function": {"name": "f", "parameters": []}}],
     "tools[1].function.parameters"),
    ("tools", [{"function": {"name": "f"}}], "tools[0].type"),
    ("tools", [{"type": "retrieval"}], "tools[0].type"),
    ("tools", [{"type": "function", "function": {"name": "get weather"}}], "tools[0].function.name"),
    ("tools", [{"type": "function", "function": {"name": "f" * 65}}], "tools[0].function.name"),
    ("tools", [{"type": "function", "function": {"name": "f\n"}}], "tools[0].function.name"),
    ("tools", [{"type": "function", "function": {"name": ""}}], "tools[0].function.name"),
    ("tools", [{"type": "function", "function": {"name": "f", "description": 5}}],
     "tools[0].function.description"),
    ("tools", [{"type": "function", "function": {"name": "f", "strict": "yes"}}],
     "tools[0].function.strict"),
    ("tools", [{"type": "custom", "custom": {"description": "d"}}], "tools[0].custom.name"),
    ("tool_choice", "any", "tool_choice"), ("tool_choice", 5, "tool_choice"),
    ("tool_choice", None, "tool_choice"), ("tool_choice", {"type": "function"}, "tool_choice.function"),
    ("tool_choice", {"type": "function", "function": {}}, "tool_choice.function.name"),
    ("tool_choice", {"function": {"name": "f"}}, "tool_choice.type"),
    ("tool_choice", {"type": "allowed_tools", "allowed_tools": {"mode": "sometimes", "tools": []}},
     "tool_choice.allowed_tools.mode"),
    ("tool_choice", {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [1]}},
     "tool_choice.allowed_tools.tools[0]"),
    ("parallel_tool_calls", "false", "parallel_tool_calls"),
    ("functions", [{"description": "x"}], "functions[0].name"),
    ("function_call", "required", "function_call"),
    ("function_call", {"name": 5}, "function_call.name"),
    ("response_format", "json", "response_format"),
    ("response_format", {"type": "xml"}, "response_format.type"),
    ("response_format", {"type": "json_schema"}, "response_format.json_schema"),
    ("response_format", {"type": "json_schema", "json_schema": {"schema": {}}},
     "response_format.json_schema.name"),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "n", "schema": [1]}},
     "response_format.json_schema.schema"),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "n", "strict": 1}},
     "response_format.json_schema.strict"),
    ("reasoning_effort", "extreme", "reasoning_effort"), ("service_tier", "turbo", "service_tier"),
    ("store", "yes", "store"), ("modalities", "text", "modalities"),
    ("modalities", ["text", "video"], "modalities[1]"),
    ("prediction", {"type": "content"}, "prediction.content"),
    ("prediction", {"type": "diff", "content": "x"}, "prediction.type"),
    ("prediction", {"type": "content", "content": [{"type": "image_url"}]},
     "prediction.content[0].type"),
    ("audio", {"voice": "alloy"}, "audio.format"), ("audio", {"voice": 1, "format": "mp3"},
                                                    "audio.voice"),
    ("audio", {"voice": {}, "format": "mp3"}, "audio.voice.id"),
    ("verbosity", "max", "verbosity"), ("web_search_options", [], "web_search_options"),
    ("web_search_options", {"search_context_size": "huge"},
     "web_search_options.search_context_size"),
    ("web_search_options", {"user_location": {"type": "approximate"}},
     "web_search_options.user_location.approximate"),
    ("prompt_cache_key", 5, "prompt_cache_key"), ("safety_identifier", 5, "safety_identifier"),
    ("prompt_cache_options", {"mode": "always"}, "prompt_cache_options.mode"),
    ("moderation", {}, "moderation.model"),
]


@pytest.mark.parametrize("field, value, param", BAD_PARAMS)
def test_bad_parameters_are_named(field, value, param):
    assert error_of(chat(**{field: value})).param == param


def test_first_problem_wins():
    # Required properties come first, then the body's own key order.
    assert error_of({"temperature": 9}).param == "model"
    assert error_of(chat(n=0, temperature=9)).param == "n"
    assert error_of(chat(temperature=9, n=0)).param == "temperature"


# -- robustness: random wrong shapes only ever raise InvalidRequestError -------------------------

SCALARS = [None, True, False, 0, -1, 1, 2, 3.5, -0.0, 10**30, 1e308, float("nan"), "", "x",
           "user", "function", "text", "auto", "a b", "50256"]


def random_json(rng, depth=0):
    """A random JSON value, skewed towards the shapes the schema expects."""
    roll = rng.random()
    if depth > 4 or roll < 0.5:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["type", "role", "content", "text", "name", "function", "image_url", "url",
            "arguments", "id", "tool_calls", "json_schema", "50256", "mode", "custom"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def nodes(value, path=()):
    """Every (path, value) inside a JSON value, the root included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from nodes(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nodes(item, path + (index,))


def mutate(rng, body):
    """A deep copy of ``body`` with one node replaced, removed, or given an extra key."""
    body = copy.deepcopy(body)
    path, _ = rng.choice(list(nodes(body))[1:])
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    roll = rng.random()
    if roll < 0.2 and isinstance(parent, dict):
        del parent[path[-1]]
    elif roll < 0.3 and isinstance(parent, dict):
        parent[rng.choice(["type", "role", "content", "extra"])] = random_json(rng)
    else:
        parent[path[-1]] = random_json(rng)
    return body


def resolves(body, param):
    """True when ``param`` points into ``body`` (its last step may be a missing property)."""
    steps = [s for s in param.replace("]", "").replace("[", ".").split(".")]
    node = body
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node[step]
    last = steps[-1]
    return isinstance(node, dict) or (isinstance(node, list) and int(last) < len(node))


def test_fuzzed_bodies_raise_only_invalid_request_errors():
    rng = random.Random(1234)
    seeds = [b for b in VALID if b is not EVERYTHING] + [EVERYTHING]
    rejected = 0
    for i in range(4000):
        body = mutate(rng, rng.choice(seeds)) if i % 4 else random_json(rng)
        try:
            validate_chat(body)
        except InvalidRequestError as err:
            rejected += 1
            assert "{param}" not in err.message
            if isinstance(body, dict):
                assert err.param and resolves(body, err.param), (body, err.param)
            # marshmallow's own (slower, collect-everything) pass agrees the body is invalid.
            assert CHAT_REQUEST.validate(body)
        else:
            assert CHAT_REQUEST.validate(body) == {}
    assert rejected > 2000
