"""Per-request controls: the body's cache object and the Cache-Control header."""
import pytest

from app.cache import controls
from app.errors import InvalidRequestError


def test_body_controls_are_popped_and_parsed():
    body = {"model": "m", "cache": {"no-cache": True, "no-store": False, "ttl": 30,
                                    "s-maxage": 5, "namespace": "ns", "use-cache": True}}
    got = controls.take(body)
    assert "cache" not in body
    assert got == controls.Controls(no_cache=True, no_store=False, use_cache=True, ttl=30.0,
                                    max_age=5.0, namespace="ns")


def test_nothing_asked_is_the_shared_default():
    assert controls.take({"model": "m"}) is controls.NONE
    assert controls.take({"model": "m"}, "") is controls.NONE


@pytest.mark.parametrize("raw, param", [
    ("yes", "cache"), ({"no-cache": "true"}, "cache.no-cache"), ({"ttl": -1}, "cache.ttl"),
    ({"ttl": True}, "cache.ttl"), ({"s-maxage": "10"}, "cache.s-maxage"),
    ({"namespace": ""}, "cache.namespace"), ({"namespace": 3}, "cache.namespace"),
    ({"nocache": True}, "cache.nocache"),
])
def test_bad_controls_are_400_naming_the_field(raw, param):
    body = {"cache": raw}
    with pytest.raises(InvalidRequestError) as info:
        controls.take(body)
    assert info.value.param == param
    assert "cache" not in body  # popped even when refused: never forwarded


def test_cache_control_header():
    assert controls.take({}, "no-cache") == controls.Controls(no_cache=True)
    assert controls.take({}, "No-Store, max-age=60") == controls.Controls(no_store=True,
                                                                          max_age=60.0)
    assert controls.take({}, 's-maxage="7"').max_age == 7.0
    assert controls.take({}, "max-age=abc, private, must-revalidate") is controls.NONE


def test_body_wins_over_header():
    got = controls.take({"cache": {"s-maxage": 1, "no-cache": False}}, "no-cache, max-age=60")
    assert got.max_age == 1.0 and got.no_cache is False
