"""ResponsesFrame: chat chunk payloads -> the Responses SSE event sequence."""
import json

import orjson

from app import errors
from app.responses.events import ResponsesFrame


def chunk(delta=None, finish=None, usage=None):
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [] if delta is None else [{"index": 0, "delta": delta,
                                                  "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return orjson.dumps(body)


def parse(raw):
    events = []
    for block in raw.decode().split("\n\n"):
        if block:
            name, data = block.split("\n")
            assert name.startswith("event: ") and data.startswith("data: ")
            event = json.loads(data[6:])
            assert event["type"] == name[7:]
            events.append(event)
    return events


def run(chunks, body=None):
    done = []
    frame = ResponsesFrame(body or {"model": "m", "input": "x"}, "resp_1", done.append)
    raw = b"".join(frame.chunk(c) for c in chunks) + frame.done()
    events = parse(raw)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events, done


def test_text_stream():
    events, done = run([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
                        chunk({"content": "lo"}), chunk({}, "stop"),
                        chunk(usage={"prompt_tokens": 3, "completion_tokens": 2,
                                     "total_tokens": 5})])
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert events[0]["response"]["status"] == "in_progress"
    assert [e["delta"] for e in events if e["type"].endswith("text.delta")] == ["Hel", "lo"]
    item_id = events[2]["item"]["id"]
    assert all(e["item_id"] == item_id for e in events[3:8])
    assert events[8]["item"]["id"] == item_id and events[8]["item"]["status"] == "completed"
    final = events[-1]["response"]
    assert final["id"] == "resp_1" and final["status"] == "completed"
    assert final["output"][0]["content"][0]["text"] == "Hello" and final["output_text"] == "Hello"
    assert final["usage"]["input_tokens"] == 3 and final["usage"]["total_tokens"] == 5
    assert done == [final]


def test_text_then_two_tool_calls():
    events, _ = run([
        chunk({"content": "checking"}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "w", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"c\":"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                               "function": {"name": "w", "arguments": "{}"}}]}),
        chunk({}, "tool_calls")])
    kinds = [e["type"] for e in events]
    # the message is finished before the first function call starts
    assert kinds.index("response.output_item.done") < kinds.index(
        "response.function_call_arguments.delta")
    dones = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(d["output_index"], d["arguments"]) for d in dones] == [(1, "{\"c\":1}"), (2, "{}")]
    final = events[-1]["response"]
    assert [(i["type"], i.get("call_id")) for i in final["output"]] == [
        ("message", None), ("function_call", "call_a"), ("function_call", "call_b")]
    assert final["output"][1]["status"] == "completed"


def test_length_ends_incomplete():
    events, _ = run([chunk({"content": "cut"}), chunk({}, "length")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_errors_mid_stream_and_before_any_event():
    frame = ResponsesFrame({"model": "m", "input": "x"}, "resp_1")
    first = frame.chunk(chunk({"content": "part"}))
    failed = parse(first + frame.error(errors.BadGatewayError("upstream broke")))[-1]
    assert failed["type"] == "response.failed" and failed["sequence_number"] == 5
    assert failed["response"]["error"] == {"code": "bad_gateway", "message": "upstream broke"}
    early = parse(ResponsesFrame({"model": "m", "input": "x"}, "r").error(
        errors.GatewayTimeoutError("slow")))
    assert early == [{"type": "error", "code": "timeout", "message": "slow", "param": None,
                      "sequence_number": 0}]


def test_native_events_pass_through():
    frame = ResponsesFrame({"model": "m", "input": "x"}, "resp_1")
    frame.native = True
    raw = b'event: response.created\ndata: {"type":"response.created"}\n\n'
    assert frame.chunk(raw) is raw and frame.done() == b""


def test_delta_template_matches_the_generic_encoder():
    frame = ResponsesFrame({"model": "m", "input": "x"}, "resp_1")
    raw = frame.chunk(chunk({"content": 'a "quoted" \u00e9 piece\n'}))
    delta = parse(raw)[-1]
    assert delta == {"type": "response.output_text.delta", "item_id": delta["item_id"],
                     "output_index": 0, "content_index": 0, "delta": 'a "quoted" \u00e9 piece\n',
                     "logprobs": [], "sequence_number": 4}
    assert raw.endswith(frame._event("response.output_text.delta", **{
        k: delta[k] for k in ("item_id", "output_index", "content_index", "delta",
                              "logprobs")}).replace(b'"sequence_number":5', b'"sequence_number":4'))
