"""marshmallow building blocks that validate OpenAI request bodies in place.

Schemas declare the shape of a body; ``ObjectSchema.check`` walks only the keys the body actually
has and stops at the first problem. A full ``Schema.load`` visits every declared field, copies the
body and collects every error, which costs ~50 us even for a tiny chat request; this path costs a
few. Nothing is converted or copied: the gateway forwards the caller's dict untouched, unknown keys
included (``unknown = INCLUDE``), because they are provider-specific parameters.

Errors travel as marshmallow ``ValidationError``s nested the way marshmallow nests them
(``{"messages": {0: {"content": [message]}}}``). Leaf messages hold the placeholder ``PARAM``
where the quoted path goes; ``validate`` turns the first error into ``InvalidRequestError`` with
an OpenAI-style ``param`` such as ``messages[0].content``. Messages never echo client values, so
huge or hostile strings cannot end up in them.

The fields only ever inspect values, so the same schemas also work with marshmallow's own
``Schema().validate(body)`` (slower, collects every error); the tests check both agree.
"""
import math
import re

from marshmallow import INCLUDE, Schema, ValidationError, fields, missing, validates_schema

from app.errors import InvalidRequestError

PARAM = "{param}"
# What OpenAI allows for function, tool and json_schema names.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_JSON_TYPES = {str: "a string", int: "an integer", float: "a decimal number", bool: "a boolean",
               list: "an array", dict: "an object", type(None): "null"}


def type_error(expected, value):
    """A ValidationError saying what was expected and which JSON type came instead."""
    got = _JSON_TYPES.get(type(value), "an unsupported value")
    return ValidationError(f"Invalid type for {PARAM}: expected {expected}, but got {got} instead.")


def value_error(problem):
    """A ValidationError for a value of the right type that is not allowed."""
    return ValidationError(f"Invalid value for {PARAM}: {problem}.")


def required_error():
    """A ValidationError for a missing required property."""
    return ValidationError(f"{PARAM} is a required property.")


def at(key, err):
    """Re-raise-able error for ``err`` found under ``key`` (a property name or array index)."""
    return ValidationError({key: err.messages})


def one_of(choices):
    """'a', 'b' or 'c' -- for messages."""
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class ObjectSchema(Schema):
    """A JSON object: declared properties are checked, unknown ones pass through untouched."""

    class Meta:
        unknown = INCLUDE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.required_names = tuple(n for n, f in self.load_fields.items() if f.required)

    def check(self, data):
        """Raise a ValidationError for the first problem in ``data``; look only at keys present."""
        if not isinstance(data, dict):
            raise type_error("an object", data)
        for name in self.required_names:
            if name not in data:
                raise at(name, required_error())
        known = self.load_fields
        for key, value in data.items():
            field = known.get(key)
            if field is not None:
                try:
                    field.deserialize(value, key, data)
                except ValidationError as err:
                    raise at(key, err) from None
        self.rules(data)

    def rules(self, data):
        """Checks across properties; raise a ValidationError keyed by the property to blame."""

    @validates_schema
    def _rules(self, data, **kwargs):
        # The same rules when marshmallow's own load()/validate() drives the schema.
        self.rules(data)


class JsonField(fields.Field):
    """A field that checks a JSON value and returns it unchanged."""

    expected = "a value"

    def __init__(self, *, expected=None, **kwargs):
        super().__init__(**kwargs)
        if expected is not None:
            self.expected = expected

    def deserialize(self, value, attr=None, data=None, **kwargs):
        """Check ``value`` and return it; raise a ValidationError on the first problem."""
        # marshmallow's version, minus the per-field pre/post_load hooks (unused here) and the
        # And() of validators it builds on every call: about half the cost on the hot path.
        if value is None or value is missing:
            self._validate_missing(value)
            return value
        self._deserialize(value, attr, data, **kwargs)
        if self.validators:
            self._validate(value)
        return value

    def _validate_missing(self, value):
        if value is missing and self.required:
            raise required_error()
        if value is None and not self.allow_none:
            raise type_error(self.expected, value)


class Str(JsonField):
    """A string, optionally non-empty, one of ``choices``, or matching ``pattern`` in full."""

    expected = "a string"

    def __init__(self, *, choices=None, pattern=None, non_empty=False, **kwargs):
        super().__init__(**kwargs)
        self.choices = frozenset(choices) if choices is not None else None
        self.choices_text = one_of(choices) if choices is not None else None
        self.pattern = pattern
        self.non_empty = non_empty

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, str):
            raise type_error(self.expected, value)
        if self.choices is not None and value not in self.choices:
            raise value_error(f"expected one of {self.choices_text}")
        if self.non_empty and not value:
            raise value_error("must not be empty")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise value_error(f"must match the pattern '^{self.pattern.pattern}$'")
        return value


class _Ranged(JsonField):
    """A number with optional inclusive bounds."""

    def __init__(self, *, minimum=None, maximum=None, **kwargs):
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum
        if minimum is not None and maximum is not None:
            self.range_text = f"must be between {minimum} and {maximum}"
        elif minimum is not None:
            self.range_text = f"must be greater than or equal to {minimum}"
        else:
            self.range_text = f"must be less than or equal to {maximum}"

    def check_range(self, value):
        """Raise when ``value`` falls outside the bounds."""
        if ((self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum)):
            raise value_error(self.range_text)


class Int(_Ranged):
    """A JSON integer: not a boolean, not a decimal number like 1.0, not a numeric string."""

    expected = "an integer"

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if type(value) is not int:
            raise type_error(self.expected, value)
        self.check_range(value)
        return value


class Num(_Ranged):
    """A finite JSON number (integer or decimal); booleans and strings are refused."""

    expected = "a number"

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        kind = type(value)
        if kind is float:
            # Python's json module lets NaN and Infinity through.
            if not math.isfinite(value):
                raise value_error("must be a finite number")
        elif kind is not int:
            raise type_error(self.expected, value)
        self.check_range(value)
        return value


class Bool(JsonField):
    """A real JSON boolean (not 0/1, not "true")."""

    expected = "a boolean"

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if type(value) is not bool:
            raise type_error(self.expected, value)
        return value


class Object(JsonField):
    """A JSON object, checked by ``schema`` or free-form (never walked: e.g. a JSON Schema)."""

    expected = "an object"

    def __init__(self, schema=None, **kwargs):
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        if self.schema is not None:
            self.schema.check(value)
        return value


class Array(JsonField):
    """A JSON array whose items all pass ``item``."""

    expected = "an array"

    def __init__(self, item, *, min_items=0, max_items=None, **kwargs):
        super().__init__(**kwargs)
        self.item, self.min_items, self.max_items = item, min_items, max_items

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, list):
            raise type_error(self.expected, value)
        check_length(value, self.min_items, self.max_items)
        item = self.item
        for index, element in enumerate(value):
            try:
                item.deserialize(element)
            except ValidationError as err:
                raise at(index, err) from None
        return value


def check_length(items, min_items=0, max_items=None):
    """Raise when an array is shorter or longer than allowed."""
    if len(items) < min_items:
        raise value_error("must not be empty" if min_items == 1
                          else f"must have at least {min_items} items")
    if max_items is not None and len(items) > max_items:
        raise value_error(f"must have at most {max_items} items")


class ByType(JsonField):
    """A value whose JSON type picks the field that checks it (a string, or an array of parts)."""

    def __init__(self, choices, **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        field = self.choices.get(type(value))
        if field is None:
            raise type_error(self.expected, value)
        field.deserialize(value)
        return value


class Tagged(JsonField):
    """An object whose ``key`` property (role, type) picks the schema for the rest of it."""

    expected = "an object"

    def __init__(self, key, schemas, **kwargs):
        super().__init__(**kwargs)
        self.key, self.schemas = key, schemas
        self.tag = Str(required=True, choices=tuple(schemas))

    def _deserialize(self, value, attr=None, data=None, **kwargs):
        if not isinstance(value, dict):
            raise type_error(self.expected, value)
        tag = value.get(self.key, missing)
        schema = self.schemas.get(tag) if type(tag) is str else None
        if schema is None:
            try:
                self.tag.deserialize(tag)  # raises the precise missing/type/choice error
            except ValidationError as err:
                raise at(self.key, err) from None
        schema.check(value)
        return value


def validate(schema, body):
    """Raise InvalidRequestError for the first problem ``schema`` finds in ``body``."""
    try:
        schema.check(body)
    except ValidationError as err:
        param, message = first_error(err.messages)
        where = f"'{param}'" if param else "the request body"
        raise InvalidRequestError(message.replace(PARAM, where, 1), param=param or None) from None


def first_error(messages):
    """(OpenAI-style path, message) of the first leaf in marshmallow's nested error messages."""
    path = []
    node = messages
    while isinstance(node, dict):
        key, node = next(iter(node.items()))
        if isinstance(key, int):
            path.append(f"[{key}]")
        else:
            path.append(f".{key}" if path else key)
    return "".join(path), (node[0] if isinstance(node, list) else node)
