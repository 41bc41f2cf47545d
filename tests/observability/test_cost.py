"""Cost: the shipped price table, per-deployment overrides, usage counting."""
from app.config import load_config
from app.observability import events
from app.observability.cost import PriceBook, load_table, token_counts


def deployments(*entries):
    return load_config({"model_list": list(entries)}).model_list


def entry(name, model, info=None, **params):
    out = {"model_name": name, "litellm_params": {"model": model, **params}}
    if info is not None:
        out["model_info"] = info
    return out


def test_table_is_dated_and_covers_every_major_provider():
    table = load_table()
    assert table["updated"] and table["currency"] == "USD"
    providers = {name.split("/")[0] for name in table["models"]}
    assert {"openai", "anthropic", "gemini", "cohere", "bedrock", "groq", "mistral", "deepseek",
            "xai", "together_ai"} <= providers
    for name, row in table["models"].items():
        assert 0 <= row["input"] < 1e-3, name
        assert 0 <= row.get("output", 0) < 1e-3, name


def test_exact_prefix_alias_and_region_lookups():
    book = PriceBook([])
    assert book.lookup("openai", "gpt-4o") == (2.5e-6, 1e-5)
    assert book.lookup("openai", "gpt-4o-mini") == (1.5e-7, 6e-7)  # longest prefix wins
    assert book.lookup("openai", "gpt-4o-2024-08-06") == (2.5e-6, 1e-5)
    assert book.lookup("openai", "gpt-4ox") is None  # a prefix must end at a boundary
    assert book.lookup("azure", "gpt-4o-mini") == (1.5e-7, 6e-7)
    assert book.lookup("anthropic", "claude-3-5-sonnet-20241022") == (3e-6, 1.5e-5)
    assert book.lookup("bedrock", "us.anthropic.claude-3-haiku-20240307-v1:0") == (2.5e-7,
                                                                                    1.25e-6)
    assert book.lookup("mock", "anything") == (0.0, 0.0)
    assert book.lookup("openai", "my-private-model") is None


def test_deployment_overrides_beat_the_table():
    deps = deployments(
        entry("a", "openai/gpt-4o", info={"input_cost_per_token": 1e-6,
                                          "output_cost_per_token": 2e-6}),
        entry("b", "openai/gpt-4o", input_cost_per_token=3e-6, output_cost_per_token=4e-6),
        entry("c", "azure/my-deployment", info={"base_model": "azure/gpt-4o-mini"},
              api_base="https://x.openai.azure.com", api_version="2024-06-01"),
        entry("d", "openai/unknown-model"),
        entry("e", "openai/gpt-3.5-turbo"))
    book = PriceBook(deps)
    a, b, c, d, e = (dep.id for dep in deps)
    assert book.cost(a, 1000, 100) == round(1e-3 + 2e-4, 10)
    assert book.cost(b, 1000, 100) == round(3e-3 + 4e-4, 10)
    assert book.cost(c, 1000, 1000) == round(1.5e-4 + 6e-4, 10)
    assert book.cost(d, 1000, 1000) is None
    assert book.cost(e, 10, 20) == round(10 * 5e-7 + 20 * 1.5e-6, 10)


def test_token_counts_of_chat_and_embedding_usage():
    assert token_counts({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}) == (3, 4)
    assert token_counts({"prompt_tokens": 5, "total_tokens": 5}) == (5, 0)
    assert token_counts({"total_tokens": 9}) == (9, 0)
    assert token_counts(None) is None


def test_streamed_output_is_assembled_and_counted():
    chunks = [b'{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
              b'{"choices":[{"index":0,"delta":{"content":"Hello "}}]}',
              b'{"choices":[{"index":0,"delta":{"content":"world, friend"}}]}',
              b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}']
    message = events.stream_output("chat", chunks)
    assert message == {"role": "assistant", "content": "Hello world, friend"}
    usage = events.estimate_usage({"messages": [{"role": "user", "content": "hi there"}]},
                                  message)
    assert usage["completion_tokens"] == 5  # 19 characters, about four a token
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streamed_tool_calls_are_merged():
    chunks = [b'{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",'
              b'"function":{"name":"get_","arguments":"{\\"a\\""}}]}}]}',
              b'{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
              b'"function":{"name":"weather","arguments":":1}"}}]}}]}']
    message = events.stream_output("chat", chunks)
    assert message["tool_calls"] == [{"id": "call_1", "type": "function",
                                      "function": {"name": "get_weather",
                                                   "arguments": '{"a":1}'}}]
