"""How a /v1/messages stream is written: Anthropic's SSE events, every one with its ``event:``.

``NativeFrame`` relays an Anthropic provider's events as they came. ``MessagesFrame`` turns the
internal OpenAI chunk payloads of every other provider into Anthropic's event sequence::

    message_start, ping, (content_block_start, content_block_delta*, content_block_stop)*,
    message_delta (stop_reason, usage), message_stop

Both plug into ``app.streaming.SSEBody`` (``chunk``, ``done``, ``error``), so logging, metrics,
cost and hang-up handling stay the gateway's own.
"""
import orjson

from app.messages import shape
from app.messages.translate import message_id, stop_reason, tool_use_id, usage

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def event(kind, data):
    """One SSE event named ``kind`` (the data dict carries the same ``type``)."""
    return b"event: " + kind + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class NativeFrame:
    """Anthropic's own events, already framed by the provider: passed on untouched."""

    @staticmethod
    def chunk(payload):
        """The event bytes as they came."""
        return payload

    @staticmethod
    def done():
        """Nothing: message_stop came from the provider."""
        return b""

    @staticmethod
    def error(exc):
        """An ``error`` event."""
        return shape.error_event(exc)


NATIVE_FRAME = NativeFrame()


class MessagesFrame:
    """OpenAI chunk payloads -> Anthropic stream events, one chunk at a time."""

    def __init__(self, call, model):
        self.call = call
        self.model = model
        self.started = False
        self.block = None  # (kind, index) of the open content block
        self.count = 0  # content blocks opened so far
        self.tools = {}  # OpenAI tool_calls index -> content block index
        self.finish = None
        self.usage = None
        self.text_prefix = b""  # the open text block's content_block_delta, up to the text

    def chunk(self, payload):
        """The events for one OpenAI chunk payload (JSON bytes)."""
        chunk = orjson.loads(payload)
        out = [] if self.started else [self._start()]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) == 0:
                self._delta(choice.get("delta") or {}, out)
                if choice.get("finish_reason"):
                    self.finish = choice["finish_reason"]
        return b"".join(out)

    def done(self):
        """Close the open block, then message_delta (stop_reason, usage) and message_stop."""
        out = [] if self.started else [self._start()]
        self._close(out)
        counts = usage(self.call.usage or self.usage)
        out.append(event(b"message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish), "stop_sequence": None},
            "usage": counts}))
        out.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
        return b"".join(out)

    @staticmethod
    def error(exc):
        """An ``error`` event."""
        return shape.error_event(exc)

    def _start(self):
        self.started = True
        message = {"id": message_id(), "type": "message", "role": "assistant",
                   "model": self.model, "content": [], "stop_reason": None,
                   "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
        return event(b"message_start", {"type": "message_start", "message": message}) + PING

    def _delta(self, delta, out):
        if delta.get("reasoning_content"):
            self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            out.append(self._block_delta({"type": "thinking_delta",
                                          "thinking": delta["reasoning_content"]}))
        text = delta.get("content")
        if text:
            if self.block is None or self.block[0] != "text":
                self._open("text", {"type": "text", "text": ""}, out)
            # The hot path (most events are text): a prefix per block, only the text encoded.
            out.append(self.text_prefix + orjson.dumps(text) + b"}}\n\n")
        for call in delta.get("tool_calls") or ():
            self._tool(call, out)

    def _tool(self, call, out):
        index = call.get("index", 0)
        fn = call.get("function") or {}
        if index not in self.tools:
            self._close(out)
            self.tools[index] = self.count
            self._open(("tool", index), {"type": "tool_use", "id": call.get("id") or tool_use_id(),
                                         "name": fn.get("name") or "", "input": {}}, out)
        if fn.get("arguments") and self.block == (("tool", index), self.tools[index]):
            out.append(self._block_delta({"type": "input_json_delta",
                                          "partial_json": fn["arguments"]}))

    def _open(self, kind, block, out):
        if self.block is not None and self.block[0] == kind:
            return
        self._close(out)
        self.block = (kind, self.count)
        if kind == "text":
            self.text_prefix = (b'event: content_block_delta\ndata: {"type":"content_block_delta",'
                                b'"index":%d,"delta":{"type":"text_delta","text":' % self.count)
        out.append(event(b"content_block_start", {"type": "content_block_start",
                                                  "index": self.count, "content_block": block}))
        self.count += 1

    def _close(self, out):
        if self.block is not None:
            out.append(event(b"content_block_stop", {"type": "content_block_stop",
                                                     "index": self.block[1]}))
            self.block = None

    def _block_delta(self, delta):
        return event(b"content_block_delta", {"type": "content_block_delta",
                                              "index": self.block[1], "delta": delta})
