"""count_tokens: the provider's own count where a deployment speaks Messages (Anthropic's
count_tokens, Bedrock's CountTokens for Claude), an estimate for the rest.

Never runs a generation. The estimate is about four characters a token over the text the model
would read (messages, tool calls and results, tool definitions), plus a few tokens a message.
"""
import orjson
from flask import g, request

from app import errors
from app.messages.translate import to_chat
from app.providers.anthropic import NativeMessages
from app.providers.base import Call
from app.router import router_of

PER_MESSAGE = 4  # role and separators


def input_tokens(app, body):
    """The input token count of a count_tokens body; 404 for an unknown model."""
    router = router_of(app)
    g.log["model"] = body["model"]
    routes = router.routes_for(body["model"], "chat")
    chat = to_chat({**body, "max_tokens": 1})
    native = [r for r in routes if r[1].speaks_messages_for(r[0])]
    if not native:
        return estimate(chat)
    call = Call("chat", chat)
    call.native = NativeMessages(body, request.headers.get("anthropic-beta"))
    result = router.run(call, native, lambda c: c.provider.count_tokens(c))
    if result is None:  # this deployment's model cannot be counted upstream (Bedrock says so)
        return estimate(chat)
    count = result.get("input_tokens")
    if not isinstance(count, int):
        raise errors.BadGatewayError(
            f"{call.provider.name} answered count_tokens without input_tokens")
    return count


def estimate(chat):
    """About four characters a token over a chat body's messages and tools."""
    chars = 0
    for msg in chat["messages"]:
        chars += len(_text(msg.get("content")))
        for call in msg.get("tool_calls") or ():
            chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
    if chat.get("tools"):
        chars += len(orjson.dumps(chat["tools"]))
    return (chars + 3) // 4 + PER_MESSAGE * len(chat["messages"])


def _text(content):
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if p.get("type") == "text")
