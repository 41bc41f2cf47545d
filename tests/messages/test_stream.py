"""Anthropic stream events: OpenAI chunks -> Messages events (MessagesFrame), and an Anthropic
provider's own events relayed (relay_events); both read back with the anthropic SDK's own
accumulator."""
import json

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent

from app import errors
from app.messages.stream import NATIVE_FRAME, MessagesFrame
from app.providers.anthropic_stream import relay_events
from app.providers.base import Call
from conftest import fixture_bytes
from tests.providers.test_relay import FakeResponse


def events_of(raw):
    """[(event name, data dict)] of an SSE body."""
    out = []
    for block in raw.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def accumulate(events):
    """The message the anthropic SDK builds from these events (what messages.stream returns)."""
    from anthropic._models import construct_type
    snapshot, bufs = None, {}
    for _name, data in events:
        if data["type"] in ("ping", "error"):
            continue
        event = construct_type(type_=RawMessageStreamEvent, value=data)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    return snapshot


def frame_stream(payloads, usage=None):
    call = Call("chat", {}, stream=True)
    frame = MessagesFrame(call, "gpt")
    out = b"".join(frame.chunk(p) for p in payloads)
    call.usage = usage
    return events_of(out + frame.done())


def openai_payloads(name):
    return [line[6:].encode() for line in fixture_bytes(name).decode().splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


def test_text_stream_sequence():
    events = frame_stream(openai_payloads("openai/chat_stream.txt"),
                          {"prompt_tokens": 12, "completion_tokens": 5})
    names = [name for name, _ in events]
    assert all(name == data["type"] for name, data in events)
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    message = accumulate(events)
    assert message.id.startswith("msg_") and message.model == "gpt"
    assert message.content[0].text == "Roses are red."
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 5)


def chunk(delta, finish=None):
    return json.dumps({"choices": [{"index": 0, "delta": delta,
                                    "finish_reason": finish}]}).encode()


def test_reasoning_text_and_two_tool_calls():
    payloads = [chunk({"role": "assistant", "reasoning_content": "Let me"}),
                chunk({"reasoning_content": " think."}), chunk({"content": "Reading."}),
                chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                       "function": {"name": "Read", "arguments": ""}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"file_path"'}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "/a"}'}}]}),
                chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                       "function": {"name": "Bash",
                                                    "arguments": '{"command": "ls"}'}}]}),
                chunk({}, "tool_calls")]
    events = frame_stream(payloads, {"prompt_tokens": 3, "completion_tokens": 4})
    starts = [d["index"] for n, d in events if n == "content_block_start"]
    stops = [d["index"] for n, d in events if n == "content_block_stop"]
    assert starts == stops == [0, 1, 2, 3]
    message = accumulate(events)
    thinking, text, read, bash = message.content
    assert thinking.thinking == "Let me think." and text.text == "Reading."
    assert (read.id, read.name, read.input) == ("call_a", "Read", {"file_path": "/a"})
    assert (bash.id, bash.input) == ("call_b", {"command": "ls"})
    assert message.stop_reason == "tool_use"


def test_empty_stream_still_has_a_message():
    events = frame_stream([])
    assert [n for n, _ in events] == ["message_start", "ping", "message_delta", "message_stop"]


def test_usage_from_the_stream_when_the_call_has_none():
    usage_chunk = json.dumps({"choices": [], "usage": {"prompt_tokens": 7,
                                                       "completion_tokens": 2}}).encode()
    events = frame_stream([chunk({"content": "hi"}, "length"), usage_chunk])
    assert events[-2][1]["usage"]["input_tokens"] == 7
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_error_event():
    out = MessagesFrame.error(errors.ServiceUnavailableError("busy"))
    [(name, data)] = events_of(out)
    assert name == "error" and data["error"] == {"type": "overloaded_error", "message": "busy"}
    assert NATIVE_FRAME.error(errors.RateLimitError("slow")).startswith(b"event: error\n")


# -- native relay --------------------------------------------------------------------------------

def relayed(name, reads=None):
    raw = fixture_bytes(name)
    call = Call("chat", {}, stream=True)
    call.api_key = None
    out = b"".join(NATIVE_FRAME.chunk(e) for e in relay_events(call, FakeResponse(
        reads or [raw])))
    return raw, out, call


@pytest.mark.parametrize("name", ["anthropic/stream_text.txt", "anthropic/stream_tool_use.txt",
                                  "anthropic/stream_thinking.txt"])
def test_native_events_relayed_as_they_came(name):
    raw, out, call = relayed(name)
    assert [(n, d) for n, d in events_of(out)] == events_of(raw.replace(b"\r\n", b"\n"))
    assert call.usage["prompt_tokens"] > 0 and call.usage["completion_tokens"] > 0


def test_native_relay_cut_into_small_reads():
    raw = fixture_bytes("anthropic/stream_tool_use.txt")
    reads = [raw[i:i + 7] for i in range(0, len(raw), 7)]
    _, out, _ = relayed("anthropic/stream_tool_use.txt", reads)
    assert events_of(out) == events_of(raw)


def test_native_relay_errors():
    with pytest.raises(errors.ServiceUnavailableError):
        relayed("anthropic/stream_error.txt")
    with pytest.raises(errors.BadGatewayError):
        relayed("anthropic/stream_truncated.txt")
