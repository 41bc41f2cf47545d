"""What a failed attempt means: its error class, whether to retry, wait or cool down.

Pure functions over the exception tree (app.errors) and RouterSettings, so the rules are unit
tested without a clock or a network. Classes, with LiteLLM's retry_policy names:

    bad_request      400/413/415/422 for the client's body: never retried, never a failure
    context_window   400 context_length_exceeded: context_window_fallbacks, not a failure
    content_policy   400 content_policy_violation: content_policy_fallbacks, not a failure
    auth             401/403 from the provider: the deployment is misconfigured
    not_found        404 from the provider: same
    rate_limit       429
    timeout          408/504, stalled streams
    unreachable      refused/reset connection, connect timeout (nothing reached the provider)
    server           500/502/503
    client           the client hung up or its own deadline passed: nobody's failure
"""
import random

from app import errors

POLICY_KEY = {"bad_request": "BadRequestErrorRetries", "auth": "AuthenticationErrorRetries",
              "timeout": "TimeoutErrorRetries", "rate_limit": "RateLimitErrorRetries",
              "content_policy": "ContentPolicyViolationErrorRetries",
              "server": "InternalServerErrorRetries", "unreachable": "InternalServerErrorRetries"}
FAILS_KEY = {"auth": "AuthenticationErrorAllowedFails", "timeout": "TimeoutErrorAllowedFails",
             "rate_limit": "RateLimitErrorAllowedFails",
             "server": "InternalServerErrorAllowedFails",
             "unreachable": "InternalServerErrorAllowedFails"}
# A deployment that answers these is cooled down at once (LiteLLM does the same for 429/401/404
# and timeouts); a refused connection means it is gone.
IMMEDIATE = frozenset({"rate_limit", "auth", "not_found", "timeout", "unreachable"})
FAILURES = frozenset({"rate_limit", "auth", "not_found", "timeout", "unreachable", "server"})
# Errors that say "this deployment, not the request": try another deployment of the group even
# when no retry is left, since the request itself never got a fair answer.
MOVE_ON = frozenset({"auth", "not_found", "unreachable"})
MAX_RETRY_WAIT = 30.0
BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0


def kind_of(exc):
    """The error class of a failed attempt (see the module docstring)."""
    if isinstance(exc, errors.ClientClosedRequestError):
        return "client"
    if getattr(exc, "unreachable", False):
        return "unreachable"
    if isinstance(exc, errors.ContextLengthExceededError):
        return "context_window"
    if isinstance(exc, errors.ContentPolicyError):
        return "content_policy"
    if isinstance(exc, (errors.AuthenticationError, errors.PermissionDeniedError)):
        return "auth"
    if isinstance(exc, errors.NotFoundError) and not isinstance(exc, errors.ModelNotFoundError):
        return "not_found"
    if isinstance(exc, errors.RateLimitError):
        return "rate_limit"
    if isinstance(exc, (errors.GatewayTimeoutError, errors.RequestTimeoutError)):
        return "timeout"
    if exc.status >= 500:
        return "server"
    return "bad_request"


def is_failure(kind):
    """Does this class count against the deployment (cooldowns, failures this minute)?"""
    return kind in FAILURES


def retries_for(kind, base, policy):
    """Retries allowed for an error class: retry_policy's number for it, else ``base``.

    A client error (bad request, context window, content policy) is never retried on the
    same group: the same body gets the same answer (the fallback lists handle the last two).
    """
    if kind in ("bad_request", "context_window", "content_policy", "client"):
        return 0
    key = POLICY_KEY.get(kind)
    if key is not None and policy.get(key) is not None:
        return int(policy[key])
    return base


def allowed_fails_for(kind, settings):
    """Failures within a minute a deployment may have before it is cooled down."""
    key = FAILS_KEY.get(kind)
    value = settings.allowed_fails_policy.get(key) if key else None
    return settings.allowed_fails if value is None else int(value)


def cools_at_once(kind):
    """Does one such failure cool the deployment down right away?"""
    return kind in IMMEDIATE


def fallback_list(kind, settings, group, requested, body_fallbacks):
    """The groups to fall back to after ``group`` failed with ``kind`` (may be empty)."""
    if kind == "client":
        return []
    if kind == "context_window":
        table = settings.context_window_fallbacks
    elif kind == "content_policy":
        table = settings.content_policy_fallbacks
    elif kind == "bad_request":
        return []
    else:
        if body_fallbacks:
            return list(body_fallbacks)
        table = settings.fallbacks
    for name in (requested, group):
        if name in table:
            return list(table[name])
    if kind in ("context_window", "content_policy"):
        return []
    if "*" in table:
        return list(table["*"])
    return list(settings.default_fallbacks)


def backoff(attempt, retry_after, minimum=0.0, rng=random.random):
    """Seconds to wait before retrying the same deployment, or None to give up now.

    The provider's Retry-After is honoured as given up to MAX_RETRY_WAIT (beyond it, waiting
    would outlast any client: give up); otherwise exponential backoff with jitter (half to all
    of 0.25 s * 2**attempt, at most 4 s), never below router_settings.retry_after.
    """
    given = seconds(retry_after)
    if given is not None:
        return None if given > MAX_RETRY_WAIT else max(given, minimum)
    delay = min(BACKOFF_BASE * 2 ** attempt, BACKOFF_CAP)
    return max(delay * (0.5 + rng() / 2), minimum)


def seconds(retry_after):
    """A Retry-After header value as seconds (None when absent or not a number)."""
    try:
        return max(0.0, float(retry_after))
    except (TypeError, ValueError):
        return None
