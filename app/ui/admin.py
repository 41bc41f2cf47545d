"""Keys pages: list, search, sort, create (raw key shown once), edit, block, regenerate, delete.

Every operation is a function of ``app.keys.manage`` (the same code the JSON API runs, with
its validation and errors); this module only turns forms into those calls and results into
pages.
"""
from flask import current_app, flash, g, redirect, render_template, request

from app import errors
from app.ui import bp
from app.ui.auth import login_required

INT_FIELDS = ("rpm_limit", "tpm_limit", "max_parallel_requests")
FLOAT_FIELDS = ("max_budget",)
TEXT_FIELDS = ("key_alias", "team_id", "user_id", "budget_duration", "duration")
SORTS = ("key_alias", "team_id", "user_id", "spend", "expires", "last_used", "created_at")


def manage():
    """The keys feature's management module (imported when a page needs it)."""
    try:
        from app.keys import manage as module
    except ImportError:
        raise errors.ServiceUnavailableError(
            "Key management is not available in this build.") from None
    return module


def as_list(result, name):
    """A list_* result as a list (a bare list, or LiteLLM's {"keys": [...]} shape)."""
    if result is True:
        return []
    if isinstance(result, dict):
        result = result.get(name) or result.get("data") or []
    return list(result or [])


def form_data(form, fields=TEXT_FIELDS, partial=False):
    """Form fields as the JSON API's body: numbers as numbers, models as a list."""
    data = {}
    for name in fields:
        value = form.get(name, "").strip()
        if value or not partial:
            data[name] = value or None
    for name in INT_FIELDS + FLOAT_FIELDS:
        if name not in form:
            continue
        value = form.get(name, "").strip()
        data[name] = _number(name, value) if value else None
    if "models" in form:
        data["models"] = [m.strip() for m in form.get("models", "").split(",") if m.strip()]
    return {k: v for k, v in data.items() if v is not None or partial}


def _number(name, value):
    try:
        return int(value) if name in INT_FIELDS else float(value)
    except ValueError:
        raise errors.InvalidRequestError(f"{name} must be a number.", param=name) from None


def sort_rows(rows, key, descending):
    """Rows sorted by one column, empty values last."""
    present = [r for r in rows if r.get(key) not in (None, "")]
    missing = [r for r in rows if r.get(key) in (None, "")]
    present.sort(key=lambda r: (str(type(r[key])), r[key]), reverse=descending)
    return present + missing


def search(rows, query, fields):
    """Rows where any of ``fields`` contains ``query`` (case-insensitive)."""
    query = query.lower()
    return [r for r in rows if any(query in str(r.get(f) or "").lower() for f in fields)]


def budget_percent(row):
    """Spend against max_budget in percent (None without a budget)."""
    budget = row.get("max_budget")
    if not budget:
        return None
    return min(100.0, 100.0 * float(row.get("spend") or 0) / float(budget))


@bp.get("/ui/keys")
@login_required()
def keys():
    """Admins: every key, searchable and sortable. A virtual key: its own key, read-only."""
    if not g.ui_user["admin"]:
        info = _act(lambda: manage().key_info(current_app, g.ui_user["token"]), None)
        rows = [info.get("info", info)] if isinstance(info, dict) else []
    else:
        rows = as_list(_act(lambda: manage().list_keys(current_app), None), "keys")
    query = request.args.get("q", "").strip()
    if query:
        rows = search(rows, query, ("key_alias", "key_name", "team_id", "user_id"))
    sort = request.args.get("sort", "created_at")
    sort = sort if sort in SORTS else "created_at"
    descending = request.args.get("dir", "desc") != "asc"
    rows = sort_rows(rows, sort, descending)
    for row in rows:
        row["budget_pct"] = budget_percent(row)
        row.setdefault("token_id", row.get("token"))
    return render_template("keys.html", rows=rows, q=query, sort=sort, descending=descending)


def _act(action, success):
    """Run one management call; flash its error (a 4xx) or ``success``; back to the list."""
    try:
        result = action()
    except errors.SwitchboardError as exc:
        flash(exc.message, "error")
        return None
    if success:
        flash(success, "ok")
    return result if result is not None else True


@bp.post("/ui/keys")
@login_required(admin=True)
def create_key():
    """Create a key from the form; the raw key is shown on this response only."""
    result = _act(lambda: manage().generate_key(current_app, form_data(request.form)), None)
    if not result:
        return redirect("/ui/keys")
    return render_template("key_created.html", result=result, title="Key created")


@bp.get("/ui/keys/<token>/edit")
@login_required(admin=True)
def edit_key(token):
    """The edit form of one key (limits, models, budget)."""
    info = _act(lambda: manage().key_info(current_app, token), None)
    if not info:
        return redirect("/ui/keys")
    return render_template("key_edit.html", key=info.get("info", info), token=token)


@bp.post("/ui/keys/<token>/edit")
@login_required(admin=True)
def update_key(token):
    """Save the edit form."""
    fields = ("key_alias", "team_id", "user_id", "budget_duration")
    data = {"key": token, **form_data(request.form, fields, partial=True)}
    _act(lambda: manage().update_key(current_app, data), "Key updated.")
    return redirect("/ui/keys")


@bp.post("/ui/keys/<token>/block")
@login_required(admin=True)
def block_key(token):
    """Block or unblock (form field ``blocked`` = "1" / "0")."""
    blocked = request.form.get("blocked") == "1"
    _act(lambda: manage().set_blocked(current_app, token, blocked),
         "Key blocked." if blocked else "Key unblocked.")
    return redirect("/ui/keys")


@bp.post("/ui/keys/<token>/regenerate")
@login_required(admin=True)
def regenerate_key(token):
    """A new raw key for the same settings; the old one stops working. Shown once."""
    result = _act(lambda: manage().regenerate_key(current_app, token), None)
    if not result:
        return redirect("/ui/keys")
    return render_template("key_created.html", result=result, title="Key regenerated")


@bp.post("/ui/keys/<token>/delete")
@login_required(admin=True)
def delete_key(token):
    """Delete after a confirmation page (the second POST carries confirm=yes)."""
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", what=f"key {request.form.get('label', token)}",
                               action=f"/ui/keys/{token}/delete", back="/ui/keys")
    _act(lambda: manage().delete_keys(current_app, [token]), "Key deleted.")
    return redirect("/ui/keys")
