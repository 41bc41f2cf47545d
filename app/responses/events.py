"""chat.completion.chunk payloads -> the Responses API's SSE events (one encoder per stream).

``ResponsesFrame`` is the ``frame`` handed to ``gateway.respond``: the shared ``SSEBody`` feeds it
the provider's chunks (already in OpenAI's chat form) and writes what it returns. Every event
carries ``event: <type>`` and a strictly increasing ``sequence_number``, so the SDK's
``client.responses.stream()`` rebuilds the response from them. On a pass-through stream
(``native = True``) the upstream's own events arrive already framed and go out unchanged.
"""
import orjson

from app.responses.from_chat import (finish, function_call_item, message_item, new_id,
                                     output_text, skeleton, usage)


def encode(event):
    """One SSE event with its ``event:`` line."""
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class ResponsesFrame:
    """Writes one Responses stream; ``on_done(response)`` runs with the finished response."""

    def __init__(self, body, response_id, on_done=None):
        self.body = body
        self.response = skeleton(body, response_id)
        self.on_done = on_done
        self.native = False
        self.seq = 0
        self.started = False
        self.text = None          # the open message item: [output_index, id, [pieces]]
        self.calls = {}           # chat tool-call index -> [output_index, item, [arg pieces]]
        self.open_calls = []
        self.finish_reason = None
        self.usage = None
        self.call = None          # the pipeline's Call: its usage when no chunk carried one

    # -- the frame interface ------------------------------------------------------------------

    def chunk(self, payload):
        """The events for one chat chunk (JSON bytes); native events pass through."""
        if self.native:
            return payload
        chunk = orjson.loads(payload)
        out = [] if self.started else self._start()
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                out.append(self._text_delta(delta["content"]))
            for call in delta.get("tool_calls") or ():
                self._tool_delta(call, out)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return b"".join(out)

    def done(self):
        """Close the open items, then ``response.completed`` (or ``response.incomplete``)."""
        if self.native:
            return b""
        out = [] if self.started else self._start()
        self._close_text(out)
        self._close_calls(out)
        counted = self.usage or (self.call.usage if self.call is not None else None)
        response = finish(self.response, self.finish_reason, usage(counted))
        if self.on_done is not None:
            self.on_done(response)
        kind = "response.completed" if response["status"] == "completed" \
            else "response.incomplete"
        out.append(self._event(kind, response=response))
        return b"".join(out)

    def error(self, exc):
        """A stream broken after it started: ``response.failed`` (or ``error`` before any event)."""
        if self.native or not self.started:
            return self._event("error", code=exc.code or exc.type, message=exc.message,
                               param=exc.param)
        response = self.response
        response.update(status="failed", error={"code": exc.code or exc.type,
                                                "message": exc.message})
        return self._event("response.failed", response=response)

    # -- pieces -------------------------------------------------------------------------------

    def _event(self, kind, **fields):
        fields["type"] = kind
        fields["sequence_number"] = self.seq
        self.seq += 1
        return encode(fields)

    def _start(self):
        self.started = True
        return [self._event("response.created", response=self.response),
                self._event("response.in_progress", response=self.response)]

    def _add_item(self, item, out):
        index = len(self.response["output"])
        self.response["output"].append(item)
        out.append(self._event("response.output_item.added", output_index=index, item=item))
        return index

    def _text_delta(self, piece):
        out = []
        if self.text is None:
            item = message_item("", new_id("msg_"), "in_progress")
            item["content"] = []
            index = self._add_item(item, out)
            self.text = [index, item["id"], []]
            out.append(self._event("response.content_part.added", item_id=item["id"],
                                   output_index=index, content_index=0, part=output_text("")))
        index, item_id, pieces = self.text
        pieces.append(piece)
        # The hot event, written from a template (same bytes as _event would give).
        out.append(b'event: response.output_text.delta\ndata: {"item_id":"%s","output_index":%d,'
                   b'"content_index":0,"delta":%s,"logprobs":[],'
                   b'"type":"response.output_text.delta","sequence_number":%d}\n\n'
                   % (item_id.encode(), index, orjson.dumps(piece), self.seq))
        self.seq += 1
        return b"".join(out)

    def _tool_delta(self, call, out):
        key = call.get("index", 0)
        function = call.get("function") or {}
        entry = self.calls.get(key)
        if entry is None:
            self._close_text(out)
            item = function_call_item(call.get("id") or new_id("call_"),
                                      function.get("name") or "", "", new_id("fc_"),
                                      "in_progress")
            entry = self.calls[key] = [self._add_item(item, out), item, []]
            self.open_calls.append(entry)
        index, item, pieces = entry
        if function.get("arguments"):
            pieces.append(function["arguments"])
            out.append(self._event("response.function_call_arguments.delta", item_id=item["id"],
                                   output_index=index, delta=function["arguments"]))

    def _close_text(self, out):
        if self.text is None:
            return
        index, item_id, pieces = self.text
        self.text = None
        text = "".join(pieces)
        part = output_text(text)
        out.append(self._event("response.output_text.done", item_id=item_id, output_index=index,
                               content_index=0, text=text, logprobs=[]))
        out.append(self._event("response.content_part.done", item_id=item_id,
                               output_index=index, content_index=0, part=part))
        item = message_item(text, item_id)
        self.response["output"][index] = item
        out.append(self._event("response.output_item.done", output_index=index, item=item))

    def _close_calls(self, out):
        for index, item, pieces in self.open_calls:
            arguments = "".join(pieces)
            out.append(self._event("response.function_call_arguments.done", item_id=item["id"],
                                   output_index=index, name=item["name"], arguments=arguments))
            done = dict(item, arguments=arguments, status="completed")
            self.response["output"][index] = done
            out.append(self._event("response.output_item.done", output_index=index, item=done))
        self.open_calls = []
