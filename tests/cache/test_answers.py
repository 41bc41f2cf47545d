"""Stored answers: storable or not, streams folded into completions and replayed."""
import json

import orjson

from app.cache import answers
from tests.conftest import fixture_json


def chunk(delta, finish=None, index=0, **extra):
    return orjson.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                         "model": "gpt-4o", "choices": [{"index": index, "delta": delta,
                                                         "finish_reason": finish}], **extra})


def test_entries_carry_their_age():
    entry = answers.pack(b'{"a":1}\nx')
    assert answers.unpack(entry) == b'{"a":1}\nx'
    assert answers.unpack(entry, max_age=60) == b'{"a":1}\nx'
    stale = b"%d\n{}" % (int(answers.time.time() * 1000) - 30_000)
    assert answers.unpack(stale, max_age=10) is None
    assert answers.unpack(stale, max_age=60) == b"{}"
    assert answers.unpack(b"not an entry") is None


def test_storable():
    good = fixture_json("openai/chat_completion.json")
    assert answers.storable("chat", good)
    refusal = json.loads(json.dumps(good))
    refusal["choices"][0]["message"]["refusal"] = "I can't help with that."
    assert not answers.storable("chat", refusal)
    filtered = json.loads(json.dumps(good))
    filtered["choices"][0]["finish_reason"] = "content_filter"
    assert not answers.storable("chat", filtered)
    assert not answers.storable("chat", {"choices": []})
    assert not answers.storable("chat", {"error": {"message": "x"}})


def test_assemble_a_stream_with_tool_calls_and_two_choices():
    payloads = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}), chunk({"content": "lo"}),
        chunk({"role": "assistant", "content": "Bye"}, index=1),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "get", "arguments": "{\"a\""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
        chunk({}, "tool_calls"), chunk({}, "stop", index=1),
        orjson.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                      "model": "gpt-4o", "choices": [], "usage": {"total_tokens": 9}}),
    ]
    got = answers.assemble("chat", payloads)
    assert got["id"] == "chatcmpl-1" and got["object"] == "chat.completion"
    assert got["usage"] == {"total_tokens": 9}
    first, second = got["choices"]
    assert first["message"]["content"] == "Hello"
    assert first["message"]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get", "arguments": "{\"a\":1}"}}]
    assert first["finish_reason"] == "tool_calls"
    assert second["message"]["content"] == "Bye" and second["index"] == 1


def test_a_stream_without_finish_reason_is_incomplete():
    assert answers.assemble("chat", [chunk({"role": "assistant"}), chunk({"content": "x"})]) \
        is None
    assert answers.assemble("chat", []) is None


def test_replay_round_trips_through_assemble():
    answer = fixture_json("openai/chat_completion.json")
    answer["choices"][0]["message"]["content"] = "word " * 100
    payloads = answers.replay("chat", answer, include_usage=True)
    chunks = [orjson.loads(p) for p in payloads]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks) > 4  # role, several content pieces, finish, usage
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == answer["usage"]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == answer["id"]
               for c in chunks)
    again = answers.assemble("chat", payloads)
    assert again["choices"][0]["message"]["content"] == "word " * 100
    assert again["choices"][0]["finish_reason"] == answer["choices"][0]["finish_reason"]
    no_usage = [orjson.loads(p) for p in answers.replay("chat", answer)]
    assert all("usage" not in c for c in no_usage)


def test_text_completion_replay_and_assemble():
    answer = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
              "choices": [{"text": "abc", "index": 0, "logprobs": None,
                           "finish_reason": "length"}]}
    payloads = answers.replay("completions", answer)
    assert all(orjson.loads(p)["object"] == "text_completion" for p in payloads)
    again = answers.assemble("completions", payloads)
    assert again["choices"][0]["text"] == "abc"
    assert again["choices"][0]["finish_reason"] == "length"


class Upstream:
    def __init__(self, payloads, fail=False):
        self.payloads, self.fail, self.closed = payloads, fail, False

    def __iter__(self):
        yield from self.payloads
        if self.fail:
            raise RuntimeError("broken")

    def close(self):
        self.closed = True


def test_recorder_hands_on_only_finished_streams():
    got = []
    rec = answers.Recorder(Upstream([b"1", b"2"]), got.append, 100)
    assert list(rec) == [b"1", b"2"] and got == [[b"1", b"2"]]
    got.clear()
    broken = answers.Recorder(Upstream([b"1"], fail=True), got.append, 100)
    try:
        list(broken)
    except RuntimeError:
        pass
    assert got == []
    abandoned = answers.Recorder(Upstream([b"1", b"2"]), got.append, 100)
    it = iter(abandoned)
    next(it)
    abandoned.close()
    assert got == [] and abandoned.stream.closed
    big = answers.Recorder(Upstream([b"12345", b"67890"]), got.append, 8)
    assert list(big) == [b"12345", b"67890"] and got == []


def test_a_long_answer_is_replayed_in_a_bounded_number_of_chunks():
    answer = fixture_json("openai/chat_completion.json")
    answer["choices"][0]["message"]["content"] = "x" * 100_000
    payloads = answers.replay("chat", answer)
    assert len(payloads) <= answers.MAX_PIECES + 2
    assert answers.assemble("chat", payloads)["choices"][0]["message"]["content"] == "x" * 100_000
