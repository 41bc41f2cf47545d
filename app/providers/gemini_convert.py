"""OpenAI chat request -> Gemini ``GenerateContentRequest``: pure functions over dicts.

Roles become ``user``/``model`` contents, system and developer messages become
``systemInstruction``, tool calls and results become ``functionCall``/``functionResponse`` parts,
tools become ``functionDeclarations`` (with the JSON-schema keys Gemini refuses stripped) and the
sampling parameters become ``generationConfig``. Parameters Gemini cannot honour go through
``common.unsupported`` (a 400 naming them, or dropped under drop_params).
"""
import mimetypes
import re

import orjson

from app import errors
from app.providers import common

PROVIDER = "Gemini"
# Gemini 3 wants its thought signatures back on the function-call parts of later turns; the only
# place an OpenAI client keeps for us is the tool call id, so the signature rides there.
SIGNATURE_SEP = "__thought__"
# Accepted and deliberately ignored: routing and bookkeeping hints with no Gemini equivalent.
IGNORED = frozenset({"model", "messages", "stream", "stream_options", "user", "store",
                     "metadata", "service_tier", "safety_identifier", "prompt_cache_key",
                     "prompt_cache_retention"})
HANDLED = frozenset({"temperature", "top_p", "top_k", "n", "seed", "presence_penalty",
                     "frequency_penalty", "max_tokens", "max_completion_tokens", "stop",
                     "response_format", "reasoning_effort", "tools", "tool_choice",
                     "parallel_tool_calls", "safety_settings"})
_SAMPLING = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "n": "candidateCount",
             "seed": "seed", "presence_penalty": "presencePenalty",
             "frequency_penalty": "frequencyPenalty"}
# OpenAI's effort levels as Gemini 2.5 thinking budgets (Google's own OpenAI layer uses these).
_BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
_LEVELS = {"none": "minimal", "minimal": "minimal", "low": "low", "medium": "medium",
           "high": "high"}
_SCHEMA_KEYS = frozenset({"type", "format", "title", "description", "nullable", "enum", "items",
                          "properties", "required", "minItems", "maxItems", "minProperties",
                          "maxProperties", "minLength", "maxLength", "pattern", "minimum",
                          "maximum", "example", "default", "anyOf", "propertyOrdering"})
_FORMATS = frozenset({"enum", "date-time", "int32", "int64", "float", "double"})
_GEMINI_3 = re.compile(r"(^|/)gemini-3")


def request_body(call, model):
    """The GenerateContentRequest for a chat call (drops or refuses what Gemini lacks)."""
    body = call.body
    for key in [k for k in body if k not in HANDLED and k not in IGNORED]:
        if body[key] is not None:
            common.unsupported(call, body, key, PROVIDER)
    if body.get("parallel_tool_calls") is False:
        # Gemini decides on parallel calls itself; it cannot be told to make at most one.
        common.unsupported(call, body, "parallel_tool_calls", PROVIDER)
    system, contents = contents_of(body["messages"])
    out = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = body.get("tools")
    if tools:
        out["tools"] = [{"functionDeclarations": [declaration(t, i) for i, t in enumerate(tools)]}]
    if body.get("tool_choice") is not None:
        out["toolConfig"] = {"functionCallingConfig": calling_config(body["tool_choice"])}
    if body.get("safety_settings"):
        out["safetySettings"] = body["safety_settings"]
    config = generation_config(body, model)
    if config:
        out["generationConfig"] = config
    return out


# -- messages --------------------------------------------------------------------------------


def contents_of(messages):
    """(systemInstruction parts, contents) for OpenAI messages; same-role turns are merged."""
    system, contents, names = [], [], {}
    for i, msg in enumerate(messages):
        role = msg["role"]
        if role in ("system", "developer"):
            system.append({"text": common.text_of(msg.get("content"))})
            continue
        if role == "user":
            turn, parts = "user", user_parts(msg.get("content"), i)
        elif role == "assistant":
            turn, parts = "model", assistant_parts(msg, i, names)
        elif role == "tool":
            turn, parts = "user", [tool_result(msg, i, names)]
        else:  # the legacy "function" role
            turn, parts = "user", [{"functionResponse": {
                "name": msg["name"], "response": response_object(msg.get("content"))}}]
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    return system, contents


def user_parts(content, i):
    """Gemini parts of a user message's content."""
    if isinstance(content, str):
        return [{"text": content}]
    return [content_part(part, f"messages[{i}].content[{j}]") for j, part in enumerate(content)]


def content_part(part, where):
    """One OpenAI content part as a Gemini part."""
    kind = part["type"]
    if kind == "text":
        return {"text": part["text"]}
    if kind == "image_url":
        return media_part(part["image_url"]["url"], where)
    if kind == "input_audio":
        audio = part["input_audio"]
        return {"inline_data": {"mime_type": f"audio/{audio['format']}", "data": audio["data"]}}
    if kind == "file" and part["file"].get("file_data"):
        return media_part(part["file"]["file_data"], where)
    raise errors.InvalidRequestError(f"{PROVIDER} does not support {kind} content parts here",
                                     param=where)


def media_part(url, where):
    """A data URI as inline_data; an http(s) or gs:// URL as file_data (Gemini fetches it)."""
    parsed = common.parse_data_uri(url)
    if parsed:
        return {"inline_data": {"mime_type": parsed[0], "data": parsed[1]}}
    if url.startswith(("https://", "http://", "gs://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"file_data": {"mime_type": mime, "file_uri": url}}
    raise errors.InvalidRequestError("image_url must be a data: URI or an http(s) URL",
                                     param=where)


def assistant_parts(msg, i, names):
    """Text and functionCall parts of an assistant message; remembers call ids -> names."""
    parts = []
    text = common.text_of(msg.get("content"))
    if text:
        parts.append({"text": text})
    for j, call in enumerate(msg.get("tool_calls") or ()):
        if call.get("type") != "function":
            raise errors.InvalidRequestError(f"{PROVIDER} supports only function tool calls",
                                             param=f"messages[{i}].tool_calls[{j}]")
        fn = call["function"]
        names[call["id"]] = fn["name"]
        part = {"functionCall": {"name": fn["name"],
                                 "args": common.tool_arguments(
                                     fn.get("arguments"),
                                     f"messages[{i}].tool_calls[{j}].function.arguments")}}
        _, sep, signature = call["id"].partition(SIGNATURE_SEP)
        if sep and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts




def tool_result(msg, i, names):
    """A tool message as a functionResponse part (the name comes from the earlier call)."""
    name = names.get(msg["tool_call_id"])
    if name is None:
        raise errors.InvalidRequestError(
            f"tool_call_id {msg['tool_call_id']!r} matches no earlier assistant tool call",
            param=f"messages[{i}].tool_call_id")
    return {"functionResponse": {"name": name,
                                 "response": response_object(common.text_of(msg["content"]))}}


def response_object(text):
    """Gemini wants an object: JSON objects pass, anything else is wrapped as {"content": ...}."""
    try:
        value = orjson.loads(text) if text else text
    except orjson.JSONDecodeError:
        value = text
    return value if isinstance(value, dict) else {"content": value}


# -- tools -----------------------------------------------------------------------------------


def declaration(tool, i):
    """An OpenAI function tool as a Gemini FunctionDeclaration."""
    if tool.get("type") != "function":
        raise errors.InvalidRequestError(f"{PROVIDER} supports only function tools",
                                         param=f"tools[{i}]")
    fn = tool["function"]
    out = {"name": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    params = gemini_schema(fn.get("parameters") or {})
    # Gemini refuses an OBJECT without properties: a function without arguments sends none.
    if params.get("properties"):
        out["parameters"] = params
    return out


def calling_config(choice):
    """OpenAI tool_choice -> functionCallingConfig."""
    if isinstance(choice, str):
        return {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    if choice["type"] == "function":
        return {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    if choice["type"] == "allowed_tools":
        allowed = choice["allowed_tools"]
        names = [t["function"]["name"] for t in allowed["tools"]
                 if isinstance(t, dict) and isinstance(t.get("function"), dict)]
        return {"mode": "ANY" if allowed["mode"] == "required" else "AUTO",
                "allowedFunctionNames": names}
    raise errors.InvalidRequestError(f"{PROVIDER} supports only function tools",
                                     param="tool_choice")


def gemini_schema(schema, defs=None, depth=0):
    """A JSON Schema reduced to the OpenAPI subset Gemini's ``parameters`` accepts."""
    if not isinstance(schema, dict):
        return schema
    if depth > 40:
        raise errors.InvalidRequestError("tool parameter schema is nested too deeply (or its "
                                         "$ref is recursive)", param="tools")
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    if "$ref" in schema:
        target = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1])
        if not isinstance(target, dict):
            raise errors.InvalidRequestError(f"unresolvable $ref {schema['$ref']!r}",
                                             param="tools")
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return gemini_schema({**target, **rest}, defs, depth + 1)
    out = {}
    for key, value in schema.items():
        key = "anyOf" if key == "oneOf" else key
        if key == "const":
            key, value = "enum", [value]
        if key not in _SCHEMA_KEYS:
            continue
        if key == "type":
            _put_type(out, value)
            continue
        if key == "properties" and isinstance(value, dict):
            value = {k: gemini_schema(v, defs, depth + 1) for k, v in value.items()}
        elif key == "items":
            value = gemini_schema(value, defs, depth + 1)
        elif key == "anyOf" and isinstance(value, list):
            if any(isinstance(v, dict) and v.get("type") == "null" for v in value):
                out["nullable"] = True
            value = [gemini_schema(v, defs, depth + 1) for v in value
                     if not (isinstance(v, dict) and v.get("type") == "null")]
            if len(value) == 1:
                out.update(value[0])
                continue
        elif key == "format" and value not in _FORMATS:
            continue
        elif key == "enum" and isinstance(value, list):
            value = [str(v) for v in value if v is not None]
        out[key] = value
    if "enum" in out and out.get("type", "STRING") != "STRING":
        del out["enum"]  # Gemini allows enum only on STRING; the type is what the caller parses
    return out


def _put_type(out, value):
    types = value if isinstance(value, list) else [value]
    if "null" in types:
        out["nullable"] = True
    types = [str(t).upper() for t in types if t != "null"]
    if len(types) == 1:
        out["type"] = types[0]
    elif types:
        out["anyOf"] = [{"type": t} for t in types]


# -- generationConfig ------------------------------------------------------------------------


def generation_config(body, model):
    """Sampling, length, stop, JSON mode and thinking settings as a generationConfig."""
    config = {gemini: body[openai] for openai, gemini in _SAMPLING.items()
              if body.get(openai) is not None}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    elif fmt.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        schema = fmt["json_schema"].get("schema")
        if schema:
            # responseJsonSchema takes JSON Schema as is ($defs, additionalProperties ...).
            config["responseJsonSchema"] = schema
    effort = body.get("reasoning_effort")
    if effort is not None:
        config["thinkingConfig"] = thinking_config(effort, model)
    return config


def thinking_config(effort, model):
    """reasoning_effort as thinkingLevel (Gemini 3) or thinkingBudget (Gemini 2.5)."""
    if effort not in _BUDGETS:
        raise errors.InvalidRequestError(
            f"{PROVIDER} supports reasoning_effort none, minimal, low, medium or high",
            param="reasoning_effort")
    if _GEMINI_3.search(model):
        return {"thinkingLevel": _LEVELS[effort], "includeThoughts": effort != "none"}
    return {"thinkingBudget": _BUDGETS[effort], "includeThoughts": effort != "none"}
