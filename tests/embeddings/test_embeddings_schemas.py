"""validate_embeddings: the four input shapes pass; bad inputs are named down to the item."""
import copy
import random

import pytest

from app.embeddings.schemas import EMBEDDINGS_REQUEST, validate_embeddings
from app.errors import InvalidRequestError

VALID = [
    {"model": "text-embedding-3-small", "input": "The food was delicious."},
    {"model": "text-embedding-3-small", "input": ["first", "second"], "encoding_format": "float"},
    {"model": "text-embedding-3-large", "input": [1820, 25, 0], "dimensions": 256,
     "encoding_format": "base64", "user": "user-1"},
    {"model": "text-embedding-ada-002", "input": [[1820, 25], [9906]], "input_type": "query"},
    {"model": "m", "input": ["x"] * 2048},
]


def embed(**params):
    """A valid body with ``params`` merged in."""
    return {"model": "text-embedding-3-small", "input": "hello", **params}


def error_of(body):
    """The InvalidRequestError validate_embeddings raises for ``body``."""
    with pytest.raises(InvalidRequestError) as info:
        validate_embeddings(body)
    assert info.value.status == 400
    return info.value


@pytest.mark.parametrize("body", VALID)
def test_valid_bodies_pass_unchanged(body):
    before = copy.deepcopy(body)
    assert validate_embeddings(body) is None
    assert body == before


@pytest.mark.parametrize("body, param", [
    ({"input": "x"}, "model"), ({"model": "", "input": "x"}, "model"),
    ({"model": None, "input": "x"}, "model"), ({"model": "m"}, "input"),
    (embed(input=None), "input"), (embed(input=5), "input"), (embed(input={"a": 1}), "input"),
    (embed(input=""), "input"), (embed(input=[]), "input"), (embed(input=["x"] * 2049), "input"),
    (embed(input=["a", ""]), "input[1]"), (embed(input=["a", "b", 3]), "input[2]"),
    (embed(input=["a", None]), "input[1]"), (embed(input=[None]), "input[0]"),
    (embed(input=[{}]), "input[0]"), (embed(input=[True]), "input[0]"),
    (embed(input=[1.5]), "input[0]"), (embed(input=[1, -1]), "input[1]"),
    (embed(input=[1, "a"]), "input[1]"), (embed(input=[1, 2.0]), "input[1]"),
    (embed(input=[1, False]), "input[1]"), (embed(input=[[1], []]), "input[1]"),
    (embed(input=[[1], [2, "x"]]), "input[1][1]"), (embed(input=[[1], [2, -3]]), "input[1][1]"),
    (embed(input=[[1], 5]), "input[1]"), (embed(input=[[1], "a"]), "input[1]"),
    (embed(encoding_format="int8"), "encoding_format"), (embed(encoding_format=None),
                                                         "encoding_format"),
    (embed(dimensions=0), "dimensions"), (embed(dimensions="256"), "dimensions"),
    (embed(dimensions=256.0), "dimensions"), (embed(user=5), "user"),
])
def test_bad_fields_are_named(body, param):
    assert error_of(body).param == param


def test_messages_are_readable():
    assert error_of(embed(input=["a", ""])).message == "Invalid value for 'input[1]': must not be empty."
    assert error_of(embed(input=7)).message == (
        "Invalid type for 'input': expected a string, an array of strings, an array of integers "
        "or an array of integer arrays, but got an integer instead.")
    assert error_of(embed(input=["x"] * 2049)).message == (
        "Invalid value for 'input': must have at most 2048 items.")


def test_big_token_batches_pass():
    validate_embeddings(embed(input=[list(range(8191))] * 256))


def test_random_shapes_raise_only_invalid_request_errors():
    rng = random.Random(7)
    shapes = [None, True, 0, -1, 7, 1.5, "", "x", [], {}, [""], [0], [[]], [[0]], [["x"]]]

    def value(depth=0):
        if depth > 3 or rng.random() < 0.5:
            return rng.choice(shapes)
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(3000):
        body = embed(**{rng.choice(["input", "model", "dimensions", "encoding_format", "user"]):
                        value()})
        try:
            validate_embeddings(body)
        except InvalidRequestError as err:
            assert err.param and "{param}" not in err.message
            assert EMBEDDINGS_REQUEST.validate(body)
        else:
            assert EMBEDDINGS_REQUEST.validate(body) == {}
