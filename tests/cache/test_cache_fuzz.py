"""Random request shapes with the cache on (and random cache controls): never a 500."""
import json
import random

import pytest

from tests.conftest import base_config
from tests.test_gateway_fuzz import ROUTES, VALUES, random_body

CONTROLS = [{"no-cache": True}, {"no-store": True}, {"ttl": 5}, {"s-maxage": 0},
            {"namespace": "n"}, {"use-cache": False}, {"ttl": "x"}, {"what": 1}, "yes", None]


@pytest.mark.parametrize("seed", range(3))
def test_random_bodies_with_cache_never_500(make_app, seed):
    config = base_config()
    config["litellm_settings"].update(cache=True, cache_params={"max_size_in_memory": 50})
    client = make_app(config).test_client()
    rng = random.Random(seed)
    for _ in range(200):
        body = random_body(rng)
        if rng.random() < 0.5:
            body["cache"] = rng.choice(CONTROLS + VALUES)
        if rng.random() < 0.3:  # the answers repeat, so hits happen too
            body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}],
                    "input": ["a", "b"], "prompt": "p", "stream": rng.random() < 0.5}
        resp = client.post(rng.choice(ROUTES), data=json.dumps(body),
                           content_type="application/json",
                           headers={"Cache-Control": rng.choice(["", "no-cache", "max-age=x"])})
        data = resp.get_data()
        assert resp.status_code < 500, data[:300]
        if resp.status_code >= 400:
            assert set(json.loads(data)["error"]) == {"message", "type", "param", "code"}
        else:
            assert resp.headers["x-switchboard-cache-hit"] in ("true", "false")
