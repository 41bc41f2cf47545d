"""The request pipeline the API blueprints share.

read the JSON body -> pull out overrides, metadata and cache controls -> validate (marshmallow)
-> route -> the cached answer, or call the provider (with retries) and store its answer ->
OpenAI-shaped JSON or an SSE stream. Request id, proxy auth and the access-log line are hooked
around every request in ``init_app``.
"""
import random
import re
import time

import orjson
from flask import Response, current_app, g, request

from app import accesslog, errors, keys, observability
from app.cache import stage as cache
from app.overrides import extract
from app.providers.base import Call, RawJSON
from app.router import router_of
from app.streaming import NOT_WATCHED, SSE_CONTENT_TYPE, SSE_HEADERS, ClientWatch, SSEBody

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# /metrics checks the master key itself, only when require_auth_for_metrics_endpoint is set.
_OPEN_ENDPOINTS = frozenset({"health.liveliness", "health.readiness", "static",
                             "metrics.metrics"})


def read_json():
    """The request body as a JSON object, or the matching 4xx."""
    ctype = request.mimetype
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise errors.UnsupportedMediaTypeError(
            f"Unsupported content type {ctype!r}; send a JSON body with "
            "'Content-Type: application/json'.")
    data = request.get_data(cache=False)
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.InvalidRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        ) from None
    if not isinstance(body, dict):
        raise errors.InvalidRequestError("The request body must be a JSON object.")
    return body


def take_metadata(body, info):
    """Pull ``metadata`` and ``tags`` out of the body into the log record."""
    meta = body.pop("metadata", None)
    tags = body.pop("tags", None)
    if meta is not None:
        if not isinstance(meta, dict):
            raise errors.InvalidRequestError("'metadata' must be an object.", param="metadata")
        info["metadata"] = accesslog.redact(meta)
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise errors.InvalidRequestError("'tags' must be an array of strings.", param="tags")
        info["tags"] = tags


def handle(endpoint, validate):
    """Serve one API request for ``endpoint`` ("chat", "embeddings" or "completions")."""
    call = prepare(endpoint, read_json(), validate)
    return respond(call, execute(call))


def prepare(endpoint, body, validate):
    """Stage 1: overrides and metadata out of ``body``, validate, and the routes -> ``Call``.

    Front doors that translate another API (``/v1/messages``, ``/v1/responses``) call this with
    the body already in the internal chat form.
    """
    ctx = g._get_current_object()
    overrides = extract(body)
    info = ctx.log
    take_metadata(body, info)
    cache.begin(endpoint, body)
    validate(body)
    info["model"] = model = body["model"]
    keys.admit(model)
    ctx.routes = router_of(current_app).routes_for(model, endpoint)
    stream = endpoint != "embeddings" and body.get("stream") is True
    call = ctx.call = Call(endpoint, body, overrides, stream)
    ctx.attempts = 0
    return call


def execute(call, action=None):
    """Stage 2: the cached answer (app.cache), else route and call the provider (with retries).

    Returns the OpenAI-shaped result (dict or ``RawJSON``) or, for a stream, the open upstream
    stream (iterate for OpenAI chunk payloads). Errors before the first byte raise here.
    ``action(call)`` replaces the provider call for a front door that picks the upstream API per
    deployment (it runs once per attempt, with ``call`` bound to the deployment); such answers
    may be in another API's shape, so they bypass the chat cache.
    """
    ctx, app = g._get_current_object(), current_app._get_current_object()
    router = router_of(app)
    observability.of(app).begin()
    hit = cache.lookup(call) if action is None else None
    if hit is not None:  # the provider is not asked
        ctx.watch = NOT_WATCHED
        if not call.stream:
            ctx.result = hit
        return hit
    watch = ctx.watch = ClientWatch.of(request.environ.get("gunicorn.socket"))
    try:
        if action is None:
            action = _open_stream if call.stream else _complete
            result = cache.keep(call, watch.wait_on(router.run, call, ctx.routes, action))
        else:
            result = watch.wait_on(router.run, call, ctx.routes, action)
    except BaseException:
        watch.stop()
        raise
    if not call.stream:
        watch.stop()
        ctx.result = result
    return result


def respond(call, result, frame=None):
    """Stage 3: the client's response: JSON, or SSE framed by ``frame`` (default OpenAI's)."""
    if call.stream:
        return _stream(call, result, frame)
    elapsed = round((time.perf_counter() - g.t0) * 1000, 3)
    if isinstance(result, RawJSON):
        return Response(result.with_field("_response_ms", elapsed), mimetype="application/json")
    result["_response_ms"] = elapsed
    return Response(orjson.dumps(result), mimetype="application/json")


def _complete(call):
    g.attempts += 1
    return call.provider.complete(call)


def _open_stream(call):
    g.attempts += 1
    return call.provider.open_stream(call)


def _stream(call, upstream, frame=None):
    ctx, app = g._get_current_object(), current_app._get_current_object()
    info = ctx.log
    log, t0, attempts = accesslog.log_of(app), ctx.t0, ctx.attempts
    obs = observability.of(app)
    ctx.deferred = True
    info["stream"] = True
    upstream, ticket = keys.tap_stream(upstream, ctx.get("ticket"))

    def on_end(error):
        _describe(info, call)
        record = accesslog.finish(info, t0, error.status if error else 200, error)
        obs.finish_stream(record, call, body, t0, attempts)
        keys.finish(ticket, record, call)
        log.write(record)

    # Only the plain OpenAI frame takes relayed blocks; kept chunks must stay one per event.
    call.relay_sse = frame is None and not obs.collect_streams
    body = SSEBody(upstream, on_end, collect=obs.collect_streams, watch=ctx.watch, frame=frame)
    # direct_passthrough: the server iterates (and closes) the SSEBody itself, without
    # werkzeug's per-event encode and close wrappers (every item is bytes already).
    return Response(body, headers=SSE_HEADERS, content_type=SSE_CONTENT_TYPE,
                    direct_passthrough=True)


def _describe(info, call):
    if call.deployment is not None:
        info["provider"] = call.provider.name
        info["deployment"] = call.deployment.id
    if call.usage:
        info["usage"] = call.usage


def _begin():
    req, ctx = request._get_current_object(), g._get_current_object()
    rid = req.environ.get("HTTP_X_REQUEST_ID")
    # An id to correlate logs, not a secret: random's generator (reseeded in each forked
    # worker) is enough, and several times cheaper than uuid4's system call.
    ctx.request_id = rid = rid if rid and _REQUEST_ID.match(rid) \
        else f"{random.getrandbits(128):032x}"
    ctx.t0 = time.perf_counter()
    ctx.log = accesslog.begin(rid, req.method, req.path)
    master = current_app.config["SWITCHBOARD_MASTER_KEY"]
    # The dashboard (blueprint "ui") authenticates with its session cookie instead.
    endpoint = req.url_rule.endpoint if req.url_rule is not None else None
    if master is not None and endpoint is not None and endpoint not in _OPEN_ENDPOINTS \
            and not endpoint.startswith("ui."):
        keys.authenticate(master, req, ctx)


def _finish(resp):
    ctx, headers = g._get_current_object(), resp.headers
    state = ctx.__dict__  # g's attributes, read with plain dict lookups
    headers.add("x-request-id", ctx.request_id)  # add: nothing else sets these two
    keys.add_headers(headers, state.get("ticket"))
    call = state.get("call")
    if call is not None:
        headers.add("x-switchboard-attempted-fallbacks", str(state.get("attempted_fallbacks", 0)))
    if not state.get("deferred"):
        if call is not None:
            _describe(ctx.log, call)
        record = accesslog.finish(ctx.log, ctx.t0, resp.status_code, state.get("error"))
        app = current_app._get_current_object()
        observability.of(app).finish(record, call, headers, state.get("result"),
                                     state.get("attempts", 1))
        keys.finish(state.get("ticket"), record, call, state.get("result"))
        accesslog.log_of(app).write(record)
    elif call is not None:  # a stream: what is known when its headers go out
        observability.add_headers(headers, call, ctx.attempts,
                                  (time.perf_counter() - ctx.t0) * 1000)
    cache.add_headers(headers)
    return resp


def init_app(app):
    """Hook request id, auth and the access log around every request."""
    master = app.config.get("SWITCHBOARD_MASTER_KEY")
    app.config["SWITCHBOARD_MASTER_KEY"] = master.encode() if isinstance(master, str) else None
    app.before_request(_begin)
    app.after_request(_finish)
