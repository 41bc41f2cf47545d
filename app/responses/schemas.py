"""The request body of POST /v1/responses, as OpenAI documents it (the parts we act on).

Built from the same in-place marshmallow fields as the chat schema (``app/schema_fields.py``):
declared properties are checked, unknown ones pass through untouched.
"""
from marshmallow import ValidationError, missing

from app.schema_fields import (NAME_PATTERN, Array, Bool, ByType, Int, JsonField, Num, Object,
                               ObjectSchema, Str, Tagged, at, type_error, validate, value_error)

ROLES = ("user", "assistant", "system", "developer")
# Tools OpenAI runs itself: only an OpenAI (or Azure) deployment can serve them.
BUILTIN_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26",
                 "web_search_preview_2025_03_11", "file_search", "computer_use_preview",
                 "computer_use", "code_interpreter", "image_generation", "mcp", "local_shell",
                 "shell", "apply_patch", "custom")


# Documented Responses fields the gateway does not act on: passed to a native upstream, never
# to a chat one (chat has no counterpart).
RESPONSES_ONLY = frozenset({"include", "truncation", "background", "conversation", "prompt",
                            "prompt_cache_key", "safety_identifier", "stream_options",
                            "max_tool_calls", "top_logprobs", "service_tier"})


class _Part(ObjectSchema):
    pass


class InputText(_Part):
    text = Str(required=True)


class InputImage(_Part):
    image_url = Str()
    file_id = Str()
    detail = Str(choices=("auto", "low", "high", "original"))

    def rules(self, data):
        """An image needs a URL (or data URL); file ids live at OpenAI only."""
        if not data.get("image_url") and not data.get("file_id"):
            raise at("image_url", value_error("an input_image needs image_url or file_id"))


class OutputText(_Part):
    text = Str(required=True)


class Refusal(_Part):
    refusal = Str(required=True)


PARTS = {"input_text": InputText(), "input_image": InputImage(), "output_text": OutputText(),
         "refusal": Refusal(), "input_file": _Part()}


class Message(ObjectSchema):
    role = Str(required=True, choices=ROLES)
    content = ByType({str: Str(), list: Array(Tagged("type", PARTS))}, required=True,
                     expected="a string or an array of content parts")


class FunctionCallItem(ObjectSchema):
    call_id = Str(required=True, non_empty=True)
    name = Str(required=True, non_empty=True)
    arguments = Str(required=True)


class FunctionCallOutput(ObjectSchema):
    call_id = Str(required=True, non_empty=True)
    output = ByType({str: Str(), list: Array(Tagged("type", PARTS))}, required=True,
                    expected="a string or an array of content parts")


ITEMS = {"message": Message(), "function_call": FunctionCallItem(),
         "function_call_output": FunctionCallOutput(), "reasoning": ObjectSchema(),
         "item_reference": ObjectSchema()}


class InputItem(JsonField):
    """An input item by ``type``; a bare ``{role, content}`` is a message (EasyInputMessage)."""

    expected = "an input item object"
    tagged = Tagged("type", ITEMS)

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        if "type" not in value:
            ITEMS["message"].check(value)
        else:
            self.tagged.deserialize(value)
        return value


class Tool(JsonField):
    """A function tool, or a built-in tool (checked against the deployment later)."""

    expected = "a tool object"

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        kind = value.get("type", missing)
        if kind == "function":
            FUNCTION_TOOL.check(value)
        elif type(kind) is not str or not kind:
            raise at("type", type_error("a string", None if kind is missing else kind))
        return value


class FunctionTool(ObjectSchema):
    name = Str(required=True, pattern=NAME_PATTERN)
    description = Str(allow_none=True)
    parameters = Object(allow_none=True)
    strict = Bool(allow_none=True)


FUNCTION_TOOL = FunctionTool()


class ToolChoice(JsonField):
    """'none' | 'auto' | 'required' | {"type": "function", "name": ...} | a built-in tool."""

    expected = "a string or an object"
    mode = Str(choices=("none", "auto", "required"))

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            return self.mode.deserialize(value)
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        if value.get("type") == "function":
            try:
                Str(required=True, non_empty=True).deserialize(value.get("name", missing))
            except ValidationError as err:
                raise at("name", err) from None
        return value


class TextFormat(ObjectSchema):
    type = Str(required=True, choices=("text", "json_schema", "json_object"))
    name = Str(pattern=NAME_PATTERN)
    schema = Object()
    strict = Bool(allow_none=True)
    description = Str()

    def rules(self, data):
        """json_schema needs a name and a schema."""
        if data.get("type") == "json_schema":
            for key in ("name", "schema"):
                if key not in data:
                    raise at(key, value_error("required when type is 'json_schema'"))


class TextConfig(ObjectSchema):
    format = Object(TextFormat())


class Reasoning(ObjectSchema):
    effort = Str(allow_none=True, choices=("none", "minimal", "low", "medium", "high", "xhigh"))


class Metadata(JsonField):
    """Up to 16 string pairs (keys up to 64 characters, values up to 512)."""

    expected = "an object"

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        if len(value) > 16:
            raise value_error("at most 16 keys")
        for key, item in value.items():
            if len(key) > 64 or not isinstance(item, str) or len(item) > 512:
                raise at(key, value_error("metadata values are strings of up to 512 characters"
                                          " under keys of up to 64"))
        return value


class ResponsesRequest(ObjectSchema):
    model = Str(required=True, non_empty=True)
    input = ByType({str: Str(), list: Array(InputItem())}, required=True,
                   expected="a string or an array of input items")
    instructions = Str(allow_none=True)
    tools = Array(Tool(), allow_none=True)
    tool_choice = ToolChoice(allow_none=True)
    parallel_tool_calls = Bool(allow_none=True)
    temperature = Num(minimum=0, maximum=2, allow_none=True)
    top_p = Num(minimum=0, maximum=1, allow_none=True)
    max_output_tokens = Int(minimum=1, allow_none=True)
    text = Object(TextConfig(), allow_none=True)
    reasoning = Object(Reasoning(), allow_none=True)
    stream = Bool(allow_none=True)
    store = Bool(allow_none=True)
    metadata = Metadata(allow_none=True)
    previous_response_id = Str(allow_none=True, non_empty=True)
    user = Str()


REQUEST = ResponsesRequest()
# Every documented top-level field (anything else is a provider parameter or an override).
DOCUMENTED = frozenset(REQUEST.load_fields) | RESPONSES_ONLY


def validate_request(body):
    """Raise InvalidRequestError (param = JSON path) for the first problem in a Responses body."""
    validate(REQUEST, body)


def builtin_tools(body):
    """The types of the tools in ``body`` that OpenAI itself must run (not functions)."""
    return [t["type"] for t in body.get("tools") or () if t.get("type") != "function"]
