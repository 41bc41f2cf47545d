"""Cache keys: canonical form, what is in and what is out."""
import pytest

from app.cache import keys
from app.overrides import Overrides

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def key(body, overrides=None, scope=None, endpoint="chat"):
    return keys.request_key(endpoint, body, overrides, scope)


def test_key_order_does_not_matter_at_any_depth():
    reordered = {"temperature": 0, "messages": [{"content": "hi", "role": "user"}],
                 "model": "gpt-4o"}
    assert key(CHAT) == key(reordered)
    assert len(key(CHAT)) == 64


@pytest.mark.parametrize("field, value", [
    ("messages", [{"role": "user", "content": "hello"}]), ("model", "gpt-4o-mini"),
    ("temperature", 0.5), ("top_p", 0.9), ("max_tokens", 5), ("n", 2), ("seed", 7),
    ("stop", ["\n"]), ("response_format", {"type": "json_object"}), ("logit_bias", {"50": 1}),
    ("tools", [{"type": "function", "function": {"name": "f"}}]), ("tool_choice", "none"),
    ("user", "end-user-2"), ("some_provider_param", True),
])
def test_every_answer_changing_field_is_in_the_key(field, value):
    assert key(dict(CHAT, **{field: value})) != key(CHAT)


@pytest.mark.parametrize("field, value", [
    ("stream", True), ("stream_options", {"include_usage": True}), ("metadata", {"a": 1}),
    ("cache", {"ttl": 5}), ("tags", ["x"]), ("request_id", "r1"),
])
def test_plumbing_is_left_out(field, value):
    assert key(dict(CHAT, **{field: value})) == key(CHAT)


def test_overrides_and_scope_are_in_the_key_secrets_are_not_readable():
    plain = key(CHAT)
    assert key(CHAT, Overrides(api_key="sk-client-a")) != plain
    assert key(CHAT, Overrides(api_key="sk-client-a")) != key(CHAT, Overrides(api_key="sk-b"))
    assert key(CHAT, Overrides(api_base="https://other.example/v1")) != plain
    assert key(CHAT, Overrides(mock_response="canned")) != plain
    assert key(CHAT, Overrides(timeout=5.0, num_retries=2)) == plain  # delivery, not the answer
    assert key(CHAT, scope="team:a") != key(CHAT, scope="team:b") != plain
    assert key(CHAT, endpoint="completions") != plain
    assert b"sk-client-a" not in key(CHAT, Overrides(api_key="sk-client-a")).encode()


class Principal:
    def __init__(self, team_id=None, token=None):
        self.team_id, self.token = team_id, token


def test_scope_is_the_team_else_the_key_unless_global():
    assert keys.scope_of(None, False) is None
    assert keys.scope_of(Principal("t1", "hash1"), False) == "team:t1"
    assert keys.scope_of(Principal(None, "hash1"), False) == "key:hash1"
    assert keys.scope_of(Principal(None, None), False) is None  # the master key
    assert keys.scope_of(Principal("t1", "hash1"), True) is None


def test_embedding_item_keys_per_item_and_shared_fields():
    body = {"model": "emb", "input": ["a", "b", "a"]}
    k = keys.item_keys(body)
    assert k[0] == k[2] != k[1]
    assert keys.item_keys({"model": "emb", "input": "a"}) == [k[0]]
    assert keys.item_keys({"model": "emb", "input": ["a"], "encoding_format": "float"}) == [k[0]]
    assert keys.item_keys({"model": "emb", "input": ["a"], "encoding_format": "base64"}) != [k[0]]
    assert keys.item_keys({"model": "emb", "input": ["a"], "dimensions": 8}) != [k[0]]
    assert keys.item_keys({"model": "emb", "input": ["a"], "user": "u"}) != [k[0]]
    assert keys.item_keys({"model": "emb2", "input": ["a"]}) != [k[0]]
    assert keys.item_keys(body, scope="team:x")[0] != k[0]


def test_embedding_token_inputs_are_items():
    assert keys.input_items([1, 2, 3]) == [[1, 2, 3]]
    assert keys.input_items([[1, 2], [3]]) == [[1, 2], [3]]
    assert keys.input_items("x") == ["x"]
    one = keys.item_keys({"model": "e", "input": [1, 2, 3]})
    assert one == keys.item_keys({"model": "e", "input": [[1, 2, 3]]})
    assert keys.combined_key(one) == one[0]
    assert keys.combined_key(one * 2) != one[0]
