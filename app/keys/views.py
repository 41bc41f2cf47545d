"""LiteLLM's management routes: /key/*, /team/*, /user/*, /spend/logs, /global/spend/report.

Thin: each view parses its input and calls ``app.keys.manage``. Admin (master key) only, except
``GET /key/info`` for a virtual key asking about itself.
"""
import datetime as dt

from flask import Blueprint, current_app, g, jsonify, request

from app import errors
from app.gateway import read_json
from app.keys import keys_of, manage
from app.store import spend as spend_store

bp = Blueprint("keys", __name__)


@bp.before_request
def _admin_only():
    who = g.get("principal")
    if keys_of(current_app) is None:
        raise errors.NotFoundError("Key management is off: set general_settings.master_key.")
    if who is None or who.is_admin:
        return
    asked = request.args.get("key")
    if request.endpoint == "keys.key_info" and (not asked or manage.token_of(asked) == who.token):
        return  # a key may read its own info
    raise errors.PermissionDeniedError("Only the master key may call management routes.",
                                       code="not_admin")


def _body():
    return read_json() if request.get_data(cache=True) else {}


def _one(data, name):
    if name not in data:
        raise errors.InvalidRequestError(f"'{name}' is required.", param=name)
    return data[name]


@bp.post("/key/generate")
def key_generate():
    """A new virtual key."""
    return jsonify(manage.generate_key(current_app, _body()))


@bp.post("/key/update")
def key_update():
    """Change a key's settings."""
    return jsonify(manage.update_key(current_app, _body()))


@bp.post("/key/delete")
def key_delete():
    """Delete keys."""
    data = _body()
    return jsonify(manage.delete_keys(current_app, _one(data, "keys")))


@bp.post("/key/block")
def key_block():
    """Block a key."""
    return jsonify(manage.set_blocked(current_app, _one(_body(), "key"), True))


@bp.post("/key/unblock")
def key_unblock():
    """Unblock a key."""
    return jsonify(manage.set_blocked(current_app, _one(_body(), "key"), False))


@bp.post("/key/regenerate")
@bp.post("/key/<path:key>/regenerate")
def key_regenerate(key=None):
    """A new secret for a key."""
    return jsonify(manage.regenerate_key(current_app, key or _one(_body(), "key")))


@bp.get("/key/info")
def key_info():
    """One key's settings and spend (a virtual key may ask about itself)."""
    key = request.args.get("key") or g.principal.token
    if not key:
        raise errors.InvalidRequestError("'key' is required.", param="key")
    return jsonify(manage.key_info(current_app, key))


@bp.get("/key/list")
def key_list():
    """Every key: token ids, or objects with ?return_full_object=true."""
    found = manage.list_keys(current_app)
    full = request.args.get("return_full_object", "").lower() == "true"
    return jsonify({"keys": found if full else [k["token_id"] for k in found],
                    "total_count": len(found), "current_page": 1, "total_pages": 1})


@bp.post("/team/new")
def team_new():
    """A new team."""
    return jsonify(manage.new_team(current_app, _body()))


@bp.post("/team/update")
def team_update():
    """Change a team."""
    return jsonify(manage.update_team(current_app, _body()))


@bp.post("/team/delete")
def team_delete():
    """Delete teams."""
    return jsonify(manage.delete_teams(current_app, _one(_body(), "team_ids")))


@bp.get("/team/info")
def team_info():
    """One team with its spend and keys."""
    return jsonify(manage.team_info(current_app, request.args.get("team_id")))


@bp.get("/team/list")
def team_list():
    """Every team."""
    return jsonify(manage.list_teams(current_app))


@bp.post("/user/new")
def user_new():
    """A new user (and a key for it)."""
    return jsonify(manage.new_user(current_app, _body()))


@bp.post("/user/update")
def user_update():
    """Change a user."""
    return jsonify(manage.update_user(current_app, _body()))


@bp.post("/user/delete")
def user_delete():
    """Delete users."""
    return jsonify(manage.delete_users(current_app, _one(_body(), "user_ids")))


@bp.get("/user/info")
def user_info():
    """One user with its spend and keys."""
    return jsonify(manage.user_info(current_app, request.args.get("user_id")))


@bp.get("/user/list")
def user_list():
    """Every user."""
    users = manage.list_users(current_app)
    return jsonify({"users": users, "total": len(users)})


def _date(name, default=None):
    text = request.args.get(name)
    if not text:
        return default
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise errors.InvalidRequestError(f"'{name}' must be a date (YYYY-MM-DD).",
                                         param=name) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _end_date():
    end = _date("end_date")
    if end is not None and len(request.args["end_date"]) <= 10:
        end += dt.timedelta(days=1)  # a plain date includes that whole day
    return end


@bp.get("/spend/logs")
def spend_logs():
    """Spend rows, filtered by api_key (raw or hash), request_id, user_id, team_id, dates."""
    args = request.args
    api_key = manage.token_of(args["api_key"]) if args.get("api_key") else None
    found = spend_store.logs(keys_of(current_app).store.engine, api_key=api_key,
                             request_id=args.get("request_id"), user_id=args.get("user_id"),
                             team_id=args.get("team_id"), start=_date("start_date"),
                             end=_end_date())
    return jsonify([_log_row(r) for r in found])


def _log_row(r):
    from app.keys.durations import iso
    out = {k: v for k, v in r.items() if k not in ("start_time", "end_time", "id")}
    out["startTime"], out["endTime"] = iso(r["start_time"]), iso(r["end_time"])
    out["user"] = r["user_id"]
    return out


@bp.get("/global/spend/report")
def spend_report():
    """Spend per day grouped by team (default), key, user or model."""
    group = request.args.get("group_by", "team")
    if group not in ("team", "key", "user", "model"):
        raise errors.InvalidRequestError("'group_by' must be team, key, user or model.",
                                         param="group_by")
    found = spend_store.report(keys_of(current_app).store.engine, group, _date("start_date"),
                               _end_date())
    days = {}
    for day, name, total, count, tokens in found:
        days.setdefault(str(day), []).append(
            {"name": name, "total_spend": round(total or 0.0, 10), "total_requests": count,
             "total_tokens": int(tokens or 0)})
    return jsonify([{"group_by_day": day, "group_by": group, "items": items}
                    for day, items in days.items()])
