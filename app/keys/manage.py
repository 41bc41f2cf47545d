"""Management operations on keys, teams and users, shared by the JSON routes and the dashboard.

Each function validates its whole input first (400 naming the field), then writes in one
transaction, then tells every instance (``changed``). Return values are the JSON API's bodies.
A ``key`` argument is the raw key or its ``token_id`` (sha256 hex).
"""
import datetime as dt
import re
import secrets
import uuid

from app import errors
from app.keys import keys_of, validate
from app.keys.durations import from_ms, iso, now_utc, parse_ms, to_ms, window
from app.keys.principal import entity_of, hash_key
from app.store import keys as rows

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEY_FIELDS = ("key_alias", "user_id", "team_id", "models", "max_budget", "budget_duration",
               "rpm_limit", "tpm_limit", "max_parallel_requests", "blocked", "metadata")
_TEAM_FIELDS = ("team_alias", "models", "members", "max_budget", "budget_duration",
                "rpm_limit", "tpm_limit", "max_parallel_requests", "blocked", "metadata")
_USER_FIELDS = ("user_email", "user_role", "models", "max_budget", "budget_duration",
                "metadata")


def _state(app):
    keys = keys_of(app)
    if keys is None:
        raise errors.InvalidRequestError("Key management needs a master key (general_settings."
                                         "master_key).")
    keys.store.ensure_schema()
    return keys, keys.store.engine


def token_of(key):
    """The stored hash for a raw key or a token_id."""
    if not isinstance(key, str) or not key:
        raise errors.InvalidRequestError("'key' must be a key or its token_id.", param="key")
    return key if _HEX64.match(key) else hash_key(key)


def _window_end(created, duration):
    if not duration:
        return None
    now_ms = to_ms(now_utc())
    return from_ms(window(to_ms(created), parse_ms(duration), now_ms)[1])


def _expires(duration, now):
    return None if not duration else now + dt.timedelta(milliseconds=parse_ms(duration))


def _display(raw):
    return f"sk-...{raw[-4:]}"


def _require(engine, kind, ident, param):
    if ident is not None and rows.get(engine, kind, ident) is None:
        raise errors.InvalidRequestError(f"{kind} {ident!r} does not exist.", param=param)


# -- keys --------------------------------------------------------------------------------------

def generate_key(app, data, conn=None):
    """POST /key/generate: a new key; the raw key is in this answer only."""
    data = validate.check(data or {}, validate.KEY)
    keys, engine = _state(app)
    _require(engine, "team", data.get("team_id"), "team_id")
    raw = data.get("key") or "sk-" + secrets.token_urlsafe(24)
    token = hash_key(raw)
    if rows.get(engine, "key", token) is not None:
        raise errors.ConflictError("This key already exists.", param="key")
    now = now_utc()
    meta = dict(data.get("metadata") or {})
    if data.get("tags"):
        meta["tags"] = data["tags"]
    values = {"token": token, "key_name": _display(raw), "created_at": now, "updated_at": now,
              "spend": 0.0, "models": data.get("models") or [], "metadata": meta,
              "blocked": bool(data.get("blocked")), "expires": _expires(data.get("duration"), now),
              "budget_reset_at": _window_end(now, data.get("budget_duration"))}
    for name in _KEY_FIELDS:
        if name not in values and name in data:
            values[name] = data[name]
    rows.create(engine, "key", values, conn)
    if conn is None:
        keys.cache.changed()
    return {"key": raw, **_key_dict(keys, values), "token": token}


def update_key(app, data):
    """POST /key/update: change settings of an existing key (null clears a limit)."""
    data = validate.check(data or {}, validate.KEY_UPDATE, required=("key",))
    keys, engine = _state(app)
    token = token_of(data.pop("key"))
    row = _key_row(engine, token)
    _require(engine, "team", data.get("team_id"), "team_id")
    values = {name: data[name] for name in _KEY_FIELDS if name in data}
    if "tags" in data:
        values["metadata"] = {**(values.get("metadata") or row["metadata"] or {}),
                              "tags": data["tags"]}
    for name in ("models", "metadata"):
        if name in values and values[name] is None:
            values[name] = [] if name == "models" else {}
    if "blocked" in values:
        values["blocked"] = bool(values["blocked"])
    if "duration" in data:
        values["expires"] = _expires(data["duration"], now_utc())
    if "budget_duration" in data:
        values["budget_reset_at"] = _window_end(row["created_at"], data["budget_duration"])
    values["updated_at"] = now_utc()
    rows.change(engine, "key", token, values)
    keys.cache.changed()
    return _key_dict(keys, {**row, **values})


def delete_keys(app, keys_list):
    """POST /key/delete {keys}: delete keys; 404 when none of them exists."""
    if not isinstance(keys_list, list) or not keys_list:
        raise errors.InvalidRequestError("'keys' must be a non-empty array of keys.",
                                         param="keys")
    keys, engine = _state(app)
    found = rows.remove(engine, "key", [token_of(k) for k in keys_list])
    if not found:
        raise errors.NotFoundError("None of these keys exists.", param="keys")
    keys.cache.changed()
    return {"deleted_keys": found}


def set_blocked(app, key, blocked):
    """POST /key/block and /key/unblock."""
    keys, engine = _state(app)
    token = token_of(key)
    row = _key_row(engine, token)
    rows.change(engine, "key", token, {"blocked": bool(blocked), "updated_at": now_utc()})
    keys.cache.changed()
    return _key_dict(keys, {**row, "blocked": bool(blocked)})


def regenerate_key(app, key):
    """POST /key/regenerate: a new secret for the same key settings; the old one stops."""
    keys, engine = _state(app)
    token = token_of(key)
    row = _key_row(engine, token)
    raw = "sk-" + secrets.token_urlsafe(24)
    new = hash_key(raw)
    if not rows.rekey(engine, token, new, {"key_name": _display(raw), "updated_at": now_utc()}):
        raise errors.NotFoundError("Key not found.", param="key")
    keys.cache.changed()
    return {"key": raw, **_key_dict(keys, {**row, "token": new, "key_name": _display(raw)}),
            "token": new}


def key_info(app, key):
    """GET /key/info: {"key", "info": {...}} (spend is the current window's)."""
    keys, engine = _state(app)
    token = token_of(key)
    return {"key": token, "info": _key_dict(keys, _key_row(engine, token))}


def list_keys(app):
    """Every key as a dict (no raw keys)."""
    keys, engine = _state(app)
    return [_key_dict(keys, row) for row in rows.list_rows(engine, "key")]


def check_key(app, raw_key):
    """The info dict of a usable key (known, not blocked, not expired), else None."""
    keys, _engine = _state(app)
    try:
        keys.principal(raw_key)
    except errors.AuthenticationError:
        return None
    return key_info(app, raw_key)["info"]


def _key_row(engine, token):
    row = rows.get(engine, "key", token)
    if row is None:
        raise errors.NotFoundError("Key not found.", param="key")
    return row


def _spend(keys, kind, ident, row):
    entity = entity_of(kind, ident, row)
    now_ms = to_ms(now_utc())
    counted = keys.limiter.spend(entity, now_ms)
    return round(counted if counted is not None else entity.seed_for(entity.window(now_ms)[0]),
                 10)


def _key_dict(keys, row):
    out = {"token_id": row["token"], "key_name": row.get("key_name")}
    out.update({name: row.get(name) for name in _KEY_FIELDS})
    out["models"] = out["models"] or []
    out["metadata"] = out["metadata"] or {}
    out["blocked"] = bool(out["blocked"])
    out["spend"] = _spend(keys, "key", row["token"], row)
    for name in ("expires", "last_used", "created_at", "budget_reset_at"):
        out[name] = iso(row.get(name))
    return out


# -- teams -------------------------------------------------------------------------------------

def new_team(app, data):
    """POST /team/new."""
    data = validate.check(data or {}, validate.TEAM)
    keys, engine = _state(app)
    team_id = data.get("team_id") or str(uuid.uuid4())
    if rows.get(engine, "team", team_id) is not None:
        raise errors.ConflictError(f"Team {team_id!r} already exists.", param="team_id")
    now = now_utc()
    values = {"team_id": team_id, "created_at": now, "updated_at": now, "spend": 0.0,
              "budget_reset_at": _window_end(now, data.get("budget_duration"))}
    values.update({n: data[n] for n in _TEAM_FIELDS if n in data})
    values["models"] = values.get("models") or []
    values["members"] = values.get("members") or []
    values["metadata"] = values.get("metadata") or {}
    values["blocked"] = bool(values.get("blocked"))
    rows.create(engine, "team", values)
    keys.cache.changed()
    return _team_dict(keys, values)


def update_team(app, data):
    """POST /team/update."""
    return _update(app, data, "team", "team_id", validate.TEAM, _TEAM_FIELDS, _team_dict)


def delete_teams(app, team_ids):
    """POST /team/delete {team_ids}."""
    return _delete(app, "team", team_ids)


def team_info(app, team_id):
    """GET /team/info: {"team_id", "team_info": {... spend}, "keys": [...]}."""
    keys, engine = _state(app)
    row = _row_or_404(engine, "team", team_id)
    return {"team_id": team_id, "team_info": _team_dict(keys, row),
            "keys": [_key_dict(keys, k) for k in rows.list_rows(engine, "key", team_id=team_id)]}


def list_teams(app):
    """Every team as a dict."""
    keys, engine = _state(app)
    return [_team_dict(keys, row) for row in rows.list_rows(engine, "team")]


def _team_dict(keys, row):
    out = {"team_id": row["team_id"]}
    out.update({n: row.get(n) for n in _TEAM_FIELDS})
    out["blocked"] = bool(out["blocked"])
    out["spend"] = _spend(keys, "team", row["team_id"], row)
    out["created_at"] = iso(row.get("created_at"))
    out["budget_reset_at"] = iso(row.get("budget_reset_at"))
    return out


# -- users -------------------------------------------------------------------------------------

def new_user(app, data):
    """POST /user/new: a user and (unless auto_create_key is false) a key bound to it."""
    data = validate.check(data or {}, validate.USER)
    keys, engine = _state(app)
    user_id = data.get("user_id") or str(uuid.uuid4())
    if rows.get(engine, "user", user_id) is not None:
        raise errors.ConflictError(f"User {user_id!r} already exists.", param="user_id")
    _require(engine, "team", data.get("team_id"), "team_id")
    now = now_utc()
    values = {"user_id": user_id, "created_at": now, "updated_at": now, "spend": 0.0,
              "budget_reset_at": _window_end(now, data.get("budget_duration"))}
    values.update({n: data[n] for n in _USER_FIELDS if n in data})
    _defaults(values)
    key_data = {n: data[n] for n in ("team_id", "key_alias", "duration", "rpm_limit",
                                     "tpm_limit", "max_parallel_requests") if n in data}
    with engine.begin() as conn:
        rows.create(engine, "user", values, conn)
        key = generate_key(app, {**key_data, "user_id": user_id}, conn) \
            if data.get("auto_create_key", True) else None
    keys.cache.changed()
    out = _user_dict(keys, values)
    if key is not None:
        out.update({"key": key["key"], "token_id": key["token_id"], "expires": key["expires"]})
    return out


def update_user(app, data):
    """POST /user/update."""
    return _update(app, data, "user", "user_id", validate.USER, _USER_FIELDS, _user_dict)


def delete_users(app, user_ids):
    """POST /user/delete {user_ids}."""
    return _delete(app, "user", user_ids)


def _update(app, data, kind, id_field, spec, fields, to_dict):
    """Change the given fields of one team or user (a new budget window when its length does)."""
    data = validate.check(data or {}, spec, required=(id_field,))
    keys, engine = _state(app)
    row = _row_or_404(engine, kind, data[id_field])
    values = {n: data[n] for n in fields if n in data}
    _defaults(values)
    if "budget_duration" in data:
        values["budget_reset_at"] = _window_end(row["created_at"], data["budget_duration"])
    values["updated_at"] = now_utc()
    rows.change(engine, kind, row[id_field], values)
    keys.cache.changed()
    return to_dict(keys, {**row, **values})


def _delete(app, kind, ids):
    """Delete teams or users by id: {"deleted_<kind>s": [...]}; 404 when none exists."""
    param = f"{kind}_ids"
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise errors.InvalidRequestError(f"'{param}' must be a non-empty array of strings.",
                                         param=param)
    keys, engine = _state(app)
    found = rows.remove(engine, kind, ids)
    if not found:
        raise errors.NotFoundError(f"None of these {kind}s exists.", param=param)
    keys.cache.changed()
    return {f"deleted_{kind}s": found}


def user_info(app, user_id):
    """GET /user/info: {"user_id", "user_info": {... spend}, "keys": [...]}."""
    keys, engine = _state(app)
    row = _row_or_404(engine, "user", user_id)
    return {"user_id": user_id, "user_info": _user_dict(keys, row),
            "keys": [_key_dict(keys, k) for k in rows.list_rows(engine, "key", user_id=user_id)]}


def list_users(app):
    """Every user as a dict."""
    keys, engine = _state(app)
    return [_user_dict(keys, row) for row in rows.list_rows(engine, "user")]


def _user_dict(keys, row):
    out = {"user_id": row["user_id"]}
    out.update({n: row.get(n) for n in _USER_FIELDS})
    out["spend"] = _spend(keys, "user", row["user_id"], row)
    out["created_at"] = iso(row.get("created_at"))
    out["budget_reset_at"] = iso(row.get("budget_reset_at"))
    return out


def _defaults(values):
    for name, empty in (("models", []), ("members", []), ("metadata", {})):
        if name in values and values[name] is None:
            values[name] = empty
    if "blocked" in values:
        values["blocked"] = bool(values["blocked"])


def _row_or_404(engine, kind, ident):
    if not isinstance(ident, str) or not ident:
        raise errors.InvalidRequestError(f"'{kind}_id' is required.", param=f"{kind}_id")
    row = rows.get(engine, kind, ident)
    if row is None:
        raise errors.NotFoundError(f"{kind.capitalize()} {ident!r} not found.",
                                   param=f"{kind}_id")
    return row
