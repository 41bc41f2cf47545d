"""The body of POST /v1/messages (and count_tokens), as Anthropic documents it.

Same building blocks as the chat schema (checks in place, unknown keys pass through for the
Anthropic provider). Block types this gateway reads are checked; newer Anthropic block and tool
types pass unchecked, so a native Anthropic deployment still receives them.
"""
from marshmallow import missing

from app.schema_fields import (Array, Bool, ByType, Int, Num, Object, ObjectSchema, Str, Tagged,
                               at, type_error, validate, value_error)


class OpenTagged(Tagged):
    """``Tagged``, except that an unknown (string) tag passes unchecked."""

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, dict) and type(value.get(self.key, missing)) is str \
                and value[self.key] not in self.schemas:
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class CacheControl(ObjectSchema):
    type = Str(required=True)
    ttl = Str()


class Block(ObjectSchema):
    cache_control = Object(CacheControl(), allow_none=True)


class TextBlock(Block):
    text = Str(required=True)


class Source(ObjectSchema):
    type = Str(required=True)
    media_type = Str()
    data = Str()
    url = Str()

    def rules(self, data):
        """base64 sources carry media_type and data, url sources a url."""
        need = {"base64": ("media_type", "data"), "url": ("url",)}.get(data["type"], ())
        for name in need:
            if name not in data:
                raise at(name, value_error(f"required for a {data['type']} source"))


class ImageBlock(Block):
    source = Object(Source(), required=True)


class ToolUseBlock(Block):
    id = Str(required=True)
    name = Str(required=True)
    input = Object(required=True)


TEXT_OR_IMAGE = OpenTagged("type", {"text": TextBlock(), "image": ImageBlock()},
                           expected="a content block object")


class ToolResultBlock(Block):
    tool_use_id = Str(required=True)
    content = ByType({str: Str(), list: Array(TEXT_OR_IMAGE)},
                     expected="a string or an array of content blocks")
    is_error = Bool()


class ThinkingBlock(Block):
    thinking = Str(required=True)
    signature = Str()


class RedactedThinkingBlock(Block):
    data = Str(required=True)


BLOCK = OpenTagged("type", {
    "text": TextBlock(), "image": ImageBlock(), "document": ImageBlock(),
    "tool_use": ToolUseBlock(), "tool_result": ToolResultBlock(), "thinking": ThinkingBlock(),
    "redacted_thinking": RedactedThinkingBlock(),
}, expected="a content block object")
CONTENT = ByType({str: Str(), list: Array(BLOCK)},
                 expected="a string or an array of content blocks", required=True)


class Message(ObjectSchema):
    role = Str(required=True, choices=("user", "assistant"))
    content = CONTENT


class Tool(ObjectSchema):
    """A client tool; server tools (a ``type`` such as web_search_20250305) pass unchecked."""

    type = Str()
    name = Str(required=True)
    description = Str()
    input_schema = Object()  # a JSON Schema: checked by the provider, never walked here

    def rules(self, data):
        """A client tool (no type, or "custom") needs its input_schema."""
        if data.get("type") in (None, "custom") and "input_schema" not in data:
            raise at("input_schema", type_error("an object", None))


class ToolChoice(ObjectSchema):
    type = Str(required=True, choices=("auto", "any", "tool", "none"))
    name = Str()
    disable_parallel_tool_use = Bool()

    def rules(self, data):
        """tool_choice {"type": "tool"} names the tool."""
        if data["type"] == "tool" and "name" not in data:
            raise at("name", value_error("required when type is 'tool'"))


class Metadata(ObjectSchema):
    user_id = Str(allow_none=True)


class Thinking(ObjectSchema):
    type = Str(required=True)
    budget_tokens = Int(minimum=1)


class CountRequest(ObjectSchema):
    """The body of count_tokens: a Messages body without the generation parameters."""

    model = Str(required=True)
    messages = Array(Object(Message()), required=True)
    system = ByType({str: Str(), list: Array(OpenTagged("type", {"text": TextBlock()}))},
                    expected="a string or an array of text blocks")
    tools = Array(Object(Tool()))
    tool_choice = Object(ToolChoice())
    thinking = Object(Thinking())


class MessagesRequest(CountRequest):
    max_tokens = Int(required=True, minimum=1)
    stop_sequences = Array(Str())
    stream = Bool()
    temperature = Num(minimum=0, maximum=1)
    top_p = Num(minimum=0, maximum=1)
    top_k = Int(minimum=0)
    metadata = Object(Metadata())


MESSAGES, COUNT = MessagesRequest(), CountRequest()


def validate_messages(body):
    """Raise InvalidRequestError for the first problem in a Messages body."""
    validate(MESSAGES, body)


def validate_count(body):
    """Raise InvalidRequestError for the first problem in a count_tokens body."""
    validate(COUNT, body)
