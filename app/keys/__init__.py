"""Virtual keys, teams, users, budgets and rate limits: ONE stage in front of routing.

    authenticate()   _begin: Bearer / api-key / x-api-key -> g.principal (master or virtual);
                     an unknown, blocked or expired key is refused (401) here
    admit(model)     prepare: the model must be allowed (401), then one atomic check-and-reserve
                     of rpm / tpm / parallel / budget for key + team + user (429 / 400)
    finish(...)      after the call (non-stream: after_request; stream: when it ends or the
                     client hangs up): one atomic record of tokens and spend that releases the
                     slot, and one spend row queued for the database

Keys are on when a master key is configured. See limits.py (the counters), principal.py (the
cache and its invalidation), spendlog.py (the rows) and manage.py (the management operations).
"""
import hmac
import logging
import time

from flask import current_app, g, request

from app import errors
from app.keys import principal as principals
from app.keys.spendlog import IdTap, SpendDelivery, SpendSink, completion_id, when

log = logging.getLogger("switchboard.keys")
EXTENSION = "switchboard.keys"


class Keys:
    """Per-worker state: the store, the counters, the key cache and the spend queue."""

    def __init__(self, app, settings, master):
        from app import kv, observability, store
        from app.keys.limits import Limiter, LocalCounters
        self.master = master
        self.store = store.store_of(app)
        self.kv = kv.kv_of(app)
        base = store.data_dir() / "state"
        base.mkdir(parents=True, exist_ok=True)
        tag = principals.hash_key(self.store.url)[:12]
        self.limiter = Limiter(self.kv, LocalCounters(base / f"limits-{tag}.db"))
        self.cache = principals.KeyCache(self._load, principals.LocalVersion(
            str(base / f"keys-{tag}.version")), self.kv)
        self.groups = _access_groups(settings)
        general = settings.general_settings or {}
        self.store_prompts = bool(general.get("store_prompts_in_spend_logs"))
        self.log_spend = not general.get("disable_spend_logs", False)
        queue = (general.get("spend_logs_queue") or {})
        self.queue = SpendDelivery(SpendSink(self.store), observability.of(app).metrics,
                                   max_size=int(queue.get("max_size", 100_000)),
                                   # small batches: SQLite holds the gevent hub while
                                   # it writes (20 rows: p99 at c=1 ~3 ms; 100: ~4.5 ms)
                                   batch_size=int(queue.get("batch_size", 20)),
                                   interval=float(queue.get("flush_interval", 0.5)))

    def _load(self, token):
        from app.store import keys as rows
        engine = self.store.engine
        key = rows.get(engine, "key", token)
        if key is None:
            return None
        team = rows.get(engine, "team", key["team_id"]) if key.get("team_id") else None
        user = rows.get(engine, "user", key["user_id"]) if key.get("user_id") else None
        return principals.build(key, team, user, self.groups)

    def principal(self, raw):
        """The principal of a raw virtual key, or a 401."""
        found = self.cache.get(principals.hash_key(raw))
        if found is None:
            raise errors.AuthenticationError("Invalid proxy API key: unknown or deleted key.")
        if found.blocked:
            raise errors.AuthenticationError("This key is blocked.", code="key_blocked")
        if found.expires_ms is not None and found.expires_ms <= time.time() * 1000:
            raise errors.AuthenticationError("This key has expired.", code="key_expired")
        return found

    def close(self, timeout=10.0):
        """Flush the spend rows (worker exit)."""
        self.cache.close()
        self.queue.close(timeout)


def _access_groups(settings):
    groups = {}
    for dep in settings.model_list:
        for group in (dep.model_info or {}).get("access_groups") or ():
            groups.setdefault(group, set()).add(dep.model_name)
    return groups


def _credential(auth, api_key, x_api_key):
    """The key a client sent: Authorization Bearer, api-key or x-api-key."""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return (api_key or x_api_key or "").strip()


def authenticate(master, req=None, ctx=None):
    """Stage: who is calling (sets ``g.principal``); 401 for anything but a usable key.

    ``req`` / ``ctx``: the request and ``g`` when the caller has them at hand.
    """
    req = request if req is None else req
    ctx = g if ctx is None else ctx
    env = req.environ
    given = _credential(env.get("HTTP_AUTHORIZATION", ""), env.get("HTTP_API_KEY"),
                        env.get("HTTP_X_API_KEY"))
    if not given:
        raise errors.AuthenticationError(
            "Invalid or missing proxy API key: send 'Authorization: Bearer <key>'.")
    if hmac.compare_digest(given.encode(), master):
        ctx.principal = principals.MASTER
        return
    keys = current_app.extensions.get(EXTENSION)
    if keys is None:
        raise errors.AuthenticationError(
            "Invalid or missing proxy API key: send 'Authorization: Bearer <key>'.")
    ctx.principal = keys.principal(given)


class Ticket:
    """One model call between admit and finish."""

    __slots__ = ("keys", "principal", "verdict", "model", "started", "tap", "done")

    def __init__(self, keys, principal, verdict, model):
        self.keys = keys  # streams finish outside the request context
        self.principal, self.verdict, self.model = principal, verdict, model
        self.started = time.time()
        self.tap = None
        self.done = False


def admit(model):
    """Stage: may this principal call ``model`` now? Reserves the call's slot (or raises)."""
    keys = current_app.extensions.get(EXTENSION)
    who = g.get("principal")
    if keys is None or who is None:
        return
    if who.models is not None and model not in who.models:
        raise errors.AuthenticationError(
            f"key not allowed to access model. This key can only access models="
            f"{sorted(who.models)}. Tried to access {model}", param="model",
            code="key_model_access_denied")
    verdict = keys.limiter.admit(who.limited) if who.limited else None
    g.ticket = Ticket(keys, who, verdict, model)  # refusals are logged too
    if verdict is not None and not verdict.ok:
        raise _refusal(verdict)


def _refusal(verdict):
    e = verdict.entity
    if verdict.reason == "budget":
        return errors.BudgetExceededError(
            f"Budget has been exceeded! {e.kind.capitalize()}={_name(e)} Current cost: "
            f"{verdict.value}, Max budget: {e.budget}")
    wait = max(1, min(60, 60 - (verdict.now_ms // 1000) % 60)) \
        if verdict.reason in ("rpm", "tpm") else 1
    what = {"rpm": f"rpm_limit={e.rpm}", "tpm": f"tpm_limit={e.tpm}",
            "parallel": f"max_parallel_requests={e.parallel}"}[verdict.reason]
    return errors.RateLimitError(f"Rate limit exceeded for {e.kind} {_name(e)}: {what}. "
                                 f"Retry after {wait} s.", retry_after=wait)


def _name(entity):
    return entity.id[:12] + "..." if entity.kind == "key" else entity.id


def add_headers(headers, ticket=None):
    """x-ratelimit-* headers of an admitted call (limits of the key, else its team)."""
    verdict = ticket.verdict if ticket is not None else None
    if verdict is None or not verdict.ok:
        return
    for e, (requests, tokens) in zip(ticket.principal.limited, verdict.counts, strict=False):
        if e.rpm is not None and "x-ratelimit-limit-requests" not in headers:
            headers["x-ratelimit-limit-requests"] = str(e.rpm)
            headers["x-ratelimit-remaining-requests"] = str(max(0, e.rpm - requests))
        if e.tpm is not None and "x-ratelimit-limit-tokens" not in headers:
            headers["x-ratelimit-limit-tokens"] = str(e.tpm)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, e.tpm - tokens))


def tap_stream(upstream, ticket):
    """A stream's upstream, watched for its completion id; and the ticket to finish later."""
    if ticket is None:
        return upstream, None
    ticket.tap = IdTap(upstream)
    return ticket.tap, ticket


def finish(ticket, info, call, result=None):
    """Stage: record the finished call (counters, one Redis round trip) and queue its row."""
    if ticket is None or ticket.done:
        return
    ticket.done = True
    try:
        _record(ticket.keys, ticket, info, call, result)
    except Exception:  # noqa: BLE001 - recording must never fail the answer it records
        log.exception("could not record the call's usage and spend")


def _record(keys, ticket, info, call, result):
    from app.observability.cost import token_counts
    status = info.get("status", 200)
    counts = token_counts(call.usage) if call is not None and call.usage else None
    counts = counts or token_counts(info.get("usage")) or (0, 0)
    spend = float(info.get("cost") or 0.0) if status < 400 else 0.0
    who, verdict = ticket.principal, ticket.verdict
    if who.entities and (verdict is None or verdict.ok):
        keys.limiter.settle(verdict, who.entities, sum(counts), spend,
                            released=verdict is not None)
    if keys.log_spend:
        keys.queue.put(_row(keys, ticket, info, call, result, counts, spend))


def _row(keys, ticket, info, call, result, counts, spend):
    from app.keys.principal import reset_at_ms
    who, status = ticket.principal, info.get("status", 200)
    dep = call.deployment if call is not None else None
    rid = (ticket.tap.id if ticket.tap is not None else completion_id(result)) \
        or info.get("request_id")
    error = info.get("error")
    row = {"request_id": rid, "call_type": call.endpoint if call else None,
           "api_key": who.token, "key_alias": who.key_alias, "team_id": who.team_id,
           "user_id": who.user_id, "end_user": _end_user(call), "model": ticket.model,
           "model_group": dep.model_name if dep else ticket.model,
           "model_id": dep.id if dep else None,
           "provider": call.provider.name if dep else None, "spend": spend,
           "prompt_tokens": counts[0], "completion_tokens": counts[1],
           "total_tokens": counts[0] + counts[1], "start_time": when(ticket.started),
           "end_time": when(max(time.time(), ticket.started)),
           "latency_ms": info.get("latency_ms"),
           "status": "success" if status < 400 else "failure", "status_code": status,
           "cache_hit": bool(info.get("cache_hit")),
           "error_message": error["message"] if error else None,
           "metadata": info.get("metadata") or {}}
    if keys.store_prompts and call is not None:
        body = call.body
        row["messages"] = body.get("messages", body.get("prompt", body.get("input")))
        row["response"] = _jsonable(result)
    now_ms = int(time.time() * 1000)
    charges = []
    for e in who.entities:
        if spend > 0 or e.kind == "key":  # a key's row also learns when it was last used
            reset = reset_at_ms(e, now_ms)
            charges.append(((e.kind, e.id, when(reset / 1000) if reset else None), spend))
    return row, charges


def _end_user(call):
    user = call.body.get("user") if call is not None else None
    return user if isinstance(user, str) else None


def _jsonable(result):
    import orjson
    if isinstance(result, (bytes, bytearray)):
        try:
            return orjson.loads(result)
        except orjson.JSONDecodeError:
            return None
    return result if isinstance(result, dict) else None


def init_app(app, settings):
    """Keys are on when a master key is set: build the worker's state and ensure the schema."""
    master = settings.master_key
    if not master:
        return
    from app import store
    store.store_of(app).ensure_schema()
    app.extensions[EXTENSION] = Keys(app, settings, master.encode())
    app.extensions.setdefault("switchboard.on_exit", []).append(
        lambda: app.extensions[EXTENSION].close())


def keys_of(app):
    """The app's key state (None when keys are off: no master key)."""
    return app.extensions.get(EXTENSION)
