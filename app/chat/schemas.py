"""The request body of POST /v1/chat/completions, as OpenAI documents it.

Messages are picked by ``role`` and content parts by ``type`` with a dict lookup (``Tagged``), so a
message costs one schema, not a try-every-schema oneOf. Free-form JSON such as tool
``parameters`` or a response ``schema`` is only checked to be an object, never walked.
"""
from app.schema_fields import (NAME_PATTERN, Array, Bool, ByType, Int, Object, ObjectSchema, Str,
                               Tagged, at, validate, value_error)
from app.schema_params import GenerationParams

# -- content parts -------------------------------------------------------------------------------


class CacheBreakpoint(ObjectSchema):
    mode = Str(required=True, choices=("explicit",))
    ttl = Str()


class Part(ObjectSchema):
    """Properties every content part may carry besides its ``type``."""

    prompt_cache_breakpoint = Object(CacheBreakpoint())


class TextPart(Part):
    text = Str(required=True)


class RefusalPart(Part):
    refusal = Str(required=True)


class ImageURL(ObjectSchema):
    url = Str(required=True)
    detail = Str(choices=("auto", "low", "high", "original"))


class ImagePart(Part):
    image_url = Object(ImageURL(), required=True)


class InputAudio(ObjectSchema):
    data = Str(required=True)
    format = Str(required=True, choices=("wav", "mp3"))


class AudioPart(Part):
    input_audio = Object(InputAudio(), required=True)


class FileRef(ObjectSchema):
    file_data = Str()
    file_id = Str()
    filename = Str()


class FilePart(Part):
    file = Object(FileRef(), required=True)


def content(parts, expected, **kwargs):
    """A string or a non-empty array of the content parts named in ``parts``."""
    part = Tagged("type", parts, expected="a content part object")
    return ByType({str: Str(), list: Array(part, min_items=1)},
                  expected=f"a string or an array of {expected}", **kwargs)


TEXT = {"text": TextPart()}
USER_PARTS = {"text": TextPart(), "image_url": ImagePart(), "input_audio": AudioPart(),
              "file": FilePart()}
ASSISTANT_PARTS = {"text": TextPart(), "refusal": RefusalPart()}

# -- messages ------------------------------------------------------------------------------------


class FunctionCall(ObjectSchema):
    name = Str(required=True)
    arguments = Str(required=True)


class FunctionToolCall(ObjectSchema):
    id = Str(required=True)
    function = Object(FunctionCall(), required=True)


class CustomCall(ObjectSchema):
    name = Str(required=True)
    input = Str(required=True)


class CustomToolCall(ObjectSchema):
    id = Str(required=True)
    custom = Object(CustomCall(), required=True)


class AudioRef(ObjectSchema):
    id = Str(required=True)


class SystemMessage(ObjectSchema):
    """Also the developer message."""

    content = content(TEXT, "text content parts", required=True)
    name = Str()


class UserMessage(ObjectSchema):
    content = content(USER_PARTS, "content parts", required=True)
    name = Str()


class AssistantMessage(ObjectSchema):
    content = content(ASSISTANT_PARTS, "text or refusal content parts", allow_none=True)
    refusal = Str(allow_none=True)
    name = Str()
    tool_calls = Array(Tagged("type", {"function": FunctionToolCall(), "custom": CustomToolCall()}),
                       allow_none=True)
    function_call = Object(FunctionCall(), allow_none=True)
    audio = Object(AudioRef(), allow_none=True)

    def rules(self, data):
        """Content may only be left out when the message carries something else."""
        if data.get("content") is None and not (
                data.get("tool_calls") or data.get("function_call") or data.get("audio")
                or data.get("refusal")):
            raise at("content", value_error(
                "required unless the assistant message has tool_calls, function_call, audio "
                "or refusal"))


class ToolMessage(ObjectSchema):
    content = content(TEXT, "text content parts", required=True)
    tool_call_id = Str(required=True)


class FunctionMessage(ObjectSchema):
    name = Str(required=True)
    content = Str(allow_none=True)


MESSAGE = Tagged("role", {
    "system": SystemMessage(), "developer": SystemMessage(), "user": UserMessage(),
    "assistant": AssistantMessage(), "tool": ToolMessage(), "function": FunctionMessage(),
}, expected="a message object")

# -- tools ---------------------------------------------------------------------------------------


class FunctionDefinition(ObjectSchema):
    name = Str(required=True, pattern=NAME_PATTERN)
    description = Str()
    parameters = Object()  # a JSON Schema: checked by the provider, never walked here
    strict = Bool(allow_none=True)


class CustomDefinition(ObjectSchema):
    name = Str(required=True)
    description = Str()
    format = Object()


class FunctionTool(ObjectSchema):
    function = Object(FunctionDefinition(), required=True)


class CustomTool(ObjectSchema):
    custom = Object(CustomDefinition(), required=True)


class Name(ObjectSchema):
    name = Str(required=True)


class NamedFunctionChoice(ObjectSchema):
    function = Object(Name(), required=True)


class NamedCustomChoice(ObjectSchema):
    custom = Object(Name(), required=True)


class AllowedTools(ObjectSchema):
    mode = Str(required=True, choices=("auto", "required"))
    tools = Array(Object(), required=True)


class AllowedToolsChoice(ObjectSchema):
    allowed_tools = Object(AllowedTools(), required=True)


TOOL_CHOICE = ByType({
    str: Str(choices=("none", "auto", "required")),
    dict: Tagged("type", {"function": NamedFunctionChoice(), "custom": NamedCustomChoice(),
                          "allowed_tools": AllowedToolsChoice()}),
}, expected="a string or an object")
FUNCTION_CALL = ByType({str: Str(choices=("none", "auto")), dict: Object(Name())},
                       expected="a string or an object")

# -- other parameters ----------------------------------------------------------------------------


class JSONSchemaFormat(ObjectSchema):
    name = Str(required=True, pattern=NAME_PATTERN)
    description = Str()
    schema = Object()  # free-form JSON Schema
    strict = Bool(allow_none=True)


class JSONSchemaResponse(ObjectSchema):
    json_schema = Object(JSONSchemaFormat(), required=True)


class Prediction(ObjectSchema):
    content = content(TEXT, "text content parts", required=True)


class VoiceId(ObjectSchema):
    id = Str(required=True)


class AudioOutput(ObjectSchema):
    voice = ByType({str: Str(), dict: Object(VoiceId())}, required=True,
                   expected="a string or an object")
    format = Str(required=True)


class ApproximateLocation(ObjectSchema):
    city = Str()
    country = Str()
    region = Str()
    timezone = Str()


class UserLocation(ObjectSchema):
    type = Str(required=True, choices=("approximate",))
    approximate = Object(ApproximateLocation(), required=True)


class WebSearchOptions(ObjectSchema):
    search_context_size = Str(choices=("low", "medium", "high"))
    user_location = Object(UserLocation(), allow_none=True)


class PromptCacheOptions(ObjectSchema):
    mode = Str(choices=("implicit", "explicit"))
    ttl = Str()


class Moderation(ObjectSchema):
    model = Str(required=True)
    policy = Object(allow_none=True)


class ChatRequest(GenerationParams):
    """The whole body; ``metadata`` and gateway-only keys are removed before validation."""

    messages = Array(MESSAGE, required=True, min_items=1)
    max_tokens = Int(minimum=1, allow_none=True)
    max_completion_tokens = Int(minimum=1, allow_none=True)
    logprobs = Bool(allow_none=True)
    top_logprobs = Int(minimum=0, maximum=20, allow_none=True)
    tools = Array(Tagged("type", {"function": FunctionTool(), "custom": CustomTool()}))
    tool_choice = TOOL_CHOICE
    parallel_tool_calls = Bool()
    functions = Array(Object(FunctionDefinition()))
    function_call = FUNCTION_CALL
    response_format = Tagged("type", {"text": ObjectSchema(), "json_object": ObjectSchema(),
                                      "json_schema": JSONSchemaResponse()})
    reasoning_effort = Str(choices=("none", "minimal", "low", "medium", "high", "xhigh", "max"),
                           allow_none=True)
    service_tier = Str(choices=("auto", "default", "flex", "scale", "priority", "fast"),
                       allow_none=True)
    store = Bool(allow_none=True)
    modalities = Array(Str(choices=("text", "audio")), allow_none=True)
    prediction = Tagged("type", {"content": Prediction()}, allow_none=True)
    audio = Object(AudioOutput(), allow_none=True)
    verbosity = Str(choices=("low", "medium", "high"), allow_none=True)
    web_search_options = Object(WebSearchOptions())
    prompt_cache_key = Str(allow_none=True)
    prompt_cache_retention = Str(allow_none=True)
    prompt_cache_options = Object(PromptCacheOptions())
    safety_identifier = Str(allow_none=True)
    moderation = Object(Moderation(), allow_none=True)


CHAT_REQUEST = ChatRequest()


def validate_chat(body):
    """Raise InvalidRequestError (param = JSON path) for the first problem in a chat body."""
    validate(CHAT_REQUEST, body)
