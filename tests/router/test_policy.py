"""Error classes, retry_policy, backoff with jitter, capped Retry-After, fallback lists."""
import pytest

from app import errors
from app.router import policy
from app.router.settings import RouterSettings


@pytest.mark.parametrize(("exc", "kind"), [
    (errors.InvalidRequestError("bad"), "bad_request"),
    (errors.UnprocessableEntityError("bad"), "bad_request"),
    (errors.ContextLengthExceededError("long"), "context_window"),
    (errors.ContentPolicyError("no"), "content_policy"),
    (errors.AuthenticationError("key"), "auth"),
    (errors.PermissionDeniedError("no"), "auth"),
    (errors.NotFoundError("gone"), "not_found"),
    (errors.ModelNotFoundError("ours"), "bad_request"),
    (errors.RateLimitError("slow"), "rate_limit"),
    (errors.GatewayTimeoutError("t"), "timeout"),
    (errors.InternalServerError("x"), "server"),
    (errors.BadGatewayError("x"), "server"),
    (errors.ServiceUnavailableError("x"), "server"),
    (errors.ClientClosedRequestError("gone"), "client"),
])
def test_kind_of(exc, kind):
    assert policy.kind_of(exc) == kind


def test_unreachable_and_failures():
    exc = errors.BadGatewayError("refused")
    exc.unreachable = True
    assert policy.kind_of(exc) == "unreachable"
    assert policy.is_failure("unreachable") and policy.is_failure("server")
    assert policy.is_failure("rate_limit") and policy.is_failure("timeout")
    for kind in ("bad_request", "context_window", "content_policy", "client"):
        assert not policy.is_failure(kind)
    assert policy.cools_at_once("rate_limit") and not policy.cools_at_once("server")


def test_retry_policy_per_class_and_client_errors_never_retried():
    rp = {"RateLimitErrorRetries": 4, "TimeoutErrorRetries": 0, "BadRequestErrorRetries": 9}
    assert policy.retries_for("rate_limit", 1, rp) == 4
    assert policy.retries_for("timeout", 1, rp) == 0
    assert policy.retries_for("server", 2, rp) == 2
    assert policy.retries_for("bad_request", 2, rp) == 0
    assert policy.retries_for("context_window", 2, rp) == 0


def test_allowed_fails_policy():
    rs = RouterSettings(allowed_fails=3, allowed_fails_policy={"TimeoutErrorAllowedFails": 7})
    assert policy.allowed_fails_for("timeout", rs) == 7
    assert policy.allowed_fails_for("server", rs) == 3


def test_backoff_exponential_with_jitter_and_capped_retry_after():
    assert policy.backoff(0, None, rng=lambda: 1.0) == 0.25
    assert policy.backoff(0, None, rng=lambda: 0.0) == 0.125
    assert policy.backoff(3, None, rng=lambda: 1.0) == 2.0
    assert policy.backoff(10, None, rng=lambda: 1.0) == 4.0  # capped
    assert policy.backoff(0, "2") == 2.0  # Retry-After honoured as given
    assert policy.backoff(0, "31") is None  # beyond the cap: give up instead of waiting
    assert policy.backoff(0, None, minimum=1.5, rng=lambda: 0.0) == 1.5  # router retry_after


def test_fallback_lists():
    rs = RouterSettings(fallbacks={"a": ["b", "c"], "*": ["z"]},
                        context_window_fallbacks={"a": ["big"]},
                        content_policy_fallbacks={"a": ["lenient"]}, default_fallbacks=["d"])
    assert policy.fallback_list("server", rs, "a", "a", None) == ["b", "c"]
    assert policy.fallback_list("server", rs, "q", "q", None) == ["z"]
    assert policy.fallback_list("context_window", rs, "a", "a", None) == ["big"]
    assert policy.fallback_list("context_window", rs, "q", "q", None) == []
    assert policy.fallback_list("content_policy", rs, "a", "a", None) == ["lenient"]
    assert policy.fallback_list("bad_request", rs, "a", "a", None) == []
    assert policy.fallback_list("client", rs, "a", "a", None) == []
    assert policy.fallback_list("rate_limit", rs, "a", "a", ("mine",)) == ["mine"]
    assert policy.fallback_list("server", RouterSettings(default_fallbacks=["d"]), "a", "a",
                                None) == ["d"]


def test_litellm_settings_are_read_where_litellm_reads_them():
    from app.config import load_config
    from app.router.settings import from_settings
    rs = from_settings(load_config({
        "model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
        "litellm_settings": {"num_retries": 3, "allowed_fails": 1, "cooldown_time": 30,
                             "fallbacks": [{"m": ["n"]}],
                             "context_window_fallbacks": [{"m": ["big"]}]},
        "router_settings": {"cooldown_time": 7}}))
    assert (rs.num_retries, rs.allowed_fails, rs.cooldown_time) == (3, 1, 7)
    assert rs.fallbacks == {"m": ["n"]} and rs.context_window_fallbacks == {"m": ["big"]}
    assert from_settings(load_config({"model_list": [
        {"model_name": "m", "litellm_params": {"model": "mock/x"}}]})).cooldown_time == 5.0
