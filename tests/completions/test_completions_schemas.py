"""validate_completions: the legacy Completions body, its prompt shapes and its parameters."""
import copy
import random

import pytest

from app.completions.schemas import COMPLETIONS_REQUEST, validate_completions
from app.errors import InvalidRequestError

VALID = [
    {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test", "max_tokens": 7,
     "temperature": 0},
    {"model": "m", "prompt": ["a", "b", ""], "n": 2, "best_of": 3, "echo": True, "logprobs": 5,
     "stop": ["\n"], "suffix": None, "logit_bias": {"50256": -100}, "seed": 1, "user": "u"},
    {"model": "m", "prompt": [1, 2, 3], "stream": True, "stream_options": {"include_usage": True},
     "max_tokens": 0, "presence_penalty": 2, "frequency_penalty": -2, "top_p": 0.5},
    {"model": "m", "prompt": [[1, 2], [3]], "suffix": "end", "logprobs": None, "echo": None},
    {"model": "m", "prompt": None, "stop": None, "top_k": 5},
    {"model": "m", "prompt": ""},
]


def complete(**params):
    """A valid body with ``params`` merged in."""
    return {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon", **params}


def error_of(body):
    """The InvalidRequestError validate_completions raises for ``body``."""
    with pytest.raises(InvalidRequestError) as info:
        validate_completions(body)
    assert info.value.status == 400
    return info.value


@pytest.mark.parametrize("body", VALID)
def test_valid_bodies_pass_unchanged(body):
    before = copy.deepcopy(body)
    assert validate_completions(body) is None
    assert body == before


@pytest.mark.parametrize("body, param", [
    ({"prompt": "x"}, "model"), ({"model": "m"}, "prompt"), (complete(prompt=5), "prompt"),
    (complete(prompt=[]), "prompt"), (complete(prompt=[[]]), "prompt[0]"),
    (complete(prompt=["a", 1]), "prompt[1]"), (complete(prompt=[1, -2]), "prompt[1]"),
    (complete(prompt=[[1], [1.5]]), "prompt[1][0]"), (complete(prompt={"text": "x"}), "prompt"),
    (complete(suffix=5), "suffix"), (complete(max_tokens=-1), "max_tokens"),
    (complete(max_tokens="16"), "max_tokens"), (complete(temperature=2.1), "temperature"),
    (complete(top_p=-0.5), "top_p"), (complete(n=0), "n"), (complete(stream="yes"), "stream"),
    (complete(stream_options={"include_usage": 1}), "stream_options.include_usage"),
    (complete(logprobs=6), "logprobs"), (complete(logprobs=True), "logprobs"),
    (complete(echo="true"), "echo"), (complete(stop=["a", "b", "c", "d", "e"]), "stop"),
    (complete(stop=[None]), "stop[0]"), (complete(presence_penalty=-2.5), "presence_penalty"),
    (complete(frequency_penalty="1"), "frequency_penalty"), (complete(best_of=21), "best_of"),
    (complete(best_of=1.0), "best_of"), (complete(logit_bias={"x": 1}), "logit_bias"),
    (complete(logit_bias={"1": -101}), "logit_bias.1"), (complete(seed=True), "seed"),
    (complete(user=None), "user"),
])
def test_bad_fields_are_named(body, param):
    assert error_of(body).param == param


def test_messages_are_readable():
    assert error_of({"model": "m"}).message == "'prompt' is a required property."
    assert error_of(complete(logprobs=6)).message == (
        "Invalid value for 'logprobs': must be between 0 and 5.")


def test_random_shapes_raise_only_invalid_request_errors():
    rng = random.Random(11)
    shapes = [None, True, 0, -1, 3, 2.5, float("inf"), "", "x", [], {}, [""], [0], [[0]], {"1": 1}]
    names = ["model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream",
             "stream_options", "logprobs", "echo", "stop", "presence_penalty", "best_of",
             "logit_bias", "seed", "user"]

    def value(depth=0):
        if depth > 3 or rng.random() < 0.5:
            return rng.choice(shapes)
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(3000):
        body = complete(**{rng.choice(names): value() for _ in range(rng.randrange(1, 4))})
        try:
            validate_completions(body)
        except InvalidRequestError as err:
            assert err.param and "{param}" not in err.message
            assert COMPLETIONS_REQUEST.validate(body)
        else:
            assert COMPLETIONS_REQUEST.validate(body) == {}
