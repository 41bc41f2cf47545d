"""OpenAI request parameters several endpoints share: token inputs, logit bias, sampling.

Built from the generic fields in app.schema_fields; chat, completions and embeddings import
what they need from here.
"""
from marshmallow import ValidationError

from app.schema_fields import (Array, Bool, ByType, Int, JsonField, Num, Object, ObjectSchema,
                               Str, at, check_length, type_error, value_error)


class LogitBias(JsonField):
    """A map of token ids (digit strings) to numbers between -100 and 100."""

    expected = "an object"
    bias = Num(minimum=-100, maximum=100)

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        for token, bias in value.items():
            if not (type(token) is str and len(token) <= 12 and token.isascii()
                    and token.isdigit()):
                raise value_error("keys must be token ids (strings of digits)")
            try:
                self.bias.deserialize(bias)
            except ValidationError as err:
                raise at(token, err) from None
        return value


class TextOrTokens(JsonField):
    """A string, or a non-empty array of strings, of token ids, or of token-id arrays."""

    expected = ("a string, an array of strings, an array of integers "
                "or an array of integer arrays")

    def __init__(self, *, max_items=None, non_empty_strings=False, **kwargs):
        super().__init__(**kwargs)
        self.max_items, self.non_empty_strings = max_items, non_empty_strings

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            if self.non_empty_strings and not value:
                raise value_error("must not be empty")
            return value
        if not isinstance(value, list):
            raise type_error(self.expected, value)
        check_length(value, 1, self.max_items)
        first = value[0]
        if isinstance(first, str):
            self._strings(value)
        elif type(first) is int:
            check_tokens(value)
        elif isinstance(first, list):
            for index, tokens in enumerate(value):
                try:
                    if not isinstance(tokens, list):
                        raise type_error("an array of integers", tokens)
                    check_length(tokens, 1)
                    check_tokens(tokens)
                except ValidationError as err:
                    raise at(index, err) from None
        else:
            raise at(0, type_error("a string, an integer or an array of integers", first))
        return value

    def _strings(self, value):
        # set(map(type, ...)) and all() run in C: a 2048-item batch costs microseconds.
        if set(map(type, value)) != {str}:
            index = next(i for i, v in enumerate(value) if type(v) is not str)
            raise at(index, type_error("a string", value[index]))
        if self.non_empty_strings and not all(value):
            raise at(value.index(""), value_error("must not be empty"))


def check_tokens(tokens):
    """Raise unless every item is a non-negative integer (a token id)."""
    if set(map(type, tokens)) != {int}:
        index = next(i for i, v in enumerate(tokens) if type(v) is not int)
        raise at(index, type_error("an integer (token id)", tokens[index]))
    if min(tokens) < 0:
        index = next(i for i, v in enumerate(tokens) if v < 0)
        raise at(index, value_error("must be greater than or equal to 0"))


class StreamOptions(ObjectSchema):
    include_usage = Bool()
    include_obfuscation = Bool()


class GenerationParams(ObjectSchema):
    """Parameters Chat Completions and the legacy Completions API share."""

    model = Str(required=True, non_empty=True)
    temperature = Num(minimum=0, maximum=2, allow_none=True)
    top_p = Num(minimum=0, maximum=1, allow_none=True)
    n = Int(minimum=1, maximum=128, allow_none=True)
    stop = ByType({str: Str(), list: Array(Str(), max_items=4)}, allow_none=True,
                  expected="a string or an array of strings")
    presence_penalty = Num(minimum=-2, maximum=2, allow_none=True)
    frequency_penalty = Num(minimum=-2, maximum=2, allow_none=True)
    logit_bias = LogitBias(allow_none=True)
    seed = Int(allow_none=True)
    user = Str()
    stream = Bool(allow_none=True)
    # Only meaningful with stream=true, but OpenAI accepts it either way.
    stream_options = Object(StreamOptions(), allow_none=True)
