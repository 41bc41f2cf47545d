"""Random request shapes through the whole pipeline: never a 500, always OpenAI's error shape."""
import json
import random

import pytest

VALUES = [None, True, False, 0, -1, 1.5, 10 ** 30, "", "x", "demo", [], {}, [1], ["a"], [{}],
          {"a": 1}, [{"role": "user", "content": "hi"}], "\u0000", "\ud7ff" * 3]
KEYS = ["model", "messages", "input", "prompt", "stream", "stream_options", "temperature",
        "tools", "tool_choice", "n", "stop", "metadata", "tags", "api_key", "api_base",
        "timeout", "extra_headers", "num_retries", "mock_response", "encoding_format",
        "dimensions", "response_format", "max_tokens", "drop_params", "user"]
ROUTES = ["/v1/chat/completions", "/v1/embeddings", "/v1/completions"]


def random_body(rng):
    body = {"model": rng.choice(["demo", "demo", "nope", 3, None])}
    if rng.random() < 0.7:
        body["messages"] = [{"role": "user", "content": "hello"}]
        body["input"] = rng.choice(["hello", ["a", "b"], [1, 2]])
        body["prompt"] = "hello"
    for _ in range(rng.randint(0, 4)):
        body[rng.choice(KEYS)] = rng.choice(VALUES)
    if rng.random() < 0.3 and isinstance(body.get("messages"), list):
        body["messages"].append({rng.choice(["role", "content", "tool_calls", "name"]):
                                 rng.choice(VALUES)})
    return body


@pytest.mark.parametrize("seed", range(8))
def test_random_bodies_never_500(client, seed):
    rng = random.Random(seed)
    for _ in range(150):
        route = rng.choice(ROUTES)
        resp = client.post(route, data=json.dumps(random_body(rng)),
                           content_type="application/json")
        data = resp.get_data()
        assert resp.status_code < 500, (route, data[:300])
        if resp.status_code >= 400:
            err = json.loads(data)["error"]
            assert set(err) == {"message", "type", "param", "code"}
