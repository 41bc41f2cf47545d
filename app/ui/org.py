"""Teams, users and models pages (admins only)."""
from flask import current_app, redirect, render_template, request

from app.router import router_of
from app.ui import bp
from app.ui.admin import _act, as_list, budget_percent, form_data, manage, search
from app.ui.auth import login_required

TEAM_FIELDS = ("team_alias", "budget_duration")
USER_FIELDS = ("user_id", "user_email", "user_role", "budget_duration")


def _members(form):
    return [m.strip() for m in form.get("members", "").split(",") if m.strip()]


def _listing(kind, search_fields):
    """The rows of ``list_<kind>s`` filtered by ``?q=`` with each row's budget bar."""
    rows = as_list(_act(lambda: getattr(manage(), f"list_{kind}s")(current_app), None),
                   f"{kind}s")
    query = request.args.get("q", "").strip()
    if query:
        rows = search(rows, query, search_fields)
    for row in rows:
        row["budget_pct"] = budget_percent(row)
    return render_template(f"{kind}s.html", rows=rows, q=query)


def _delete(kind, ident):
    """Delete one team or user after a confirmation page."""
    page = f"/ui/{kind}s"
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", what=f"{kind} {ident}",
                               action=f"{page}/{ident}/delete", back=page)
    _act(lambda: getattr(manage(), f"delete_{kind}s")(current_app, [ident]),
         f"{kind.capitalize()} deleted.")
    return redirect(page)


@bp.get("/ui/teams")
@login_required(admin=True)
def teams():
    """Every team with budget bar, members, models and limits."""
    return _listing("team", ("team_id", "team_alias"))


@bp.post("/ui/teams")
@login_required(admin=True)
def create_team():
    """Create a team from the form."""
    data = form_data(request.form, TEAM_FIELDS)
    if "members" in request.form:
        data["members"] = _members(request.form)
    _act(lambda: manage().new_team(current_app, data), "Team created.")
    return redirect("/ui/teams")


@bp.post("/ui/teams/<team_id>/edit")
@login_required(admin=True)
def update_team(team_id):
    """Save a team's budget, limits, models and members."""
    data = {"team_id": team_id, **form_data(request.form, TEAM_FIELDS, partial=True)}
    if "members" in request.form:
        data["members"] = _members(request.form)
    _act(lambda: manage().update_team(current_app, data), "Team updated.")
    return redirect("/ui/teams")


@bp.post("/ui/teams/<team_id>/delete")
@login_required(admin=True)
def delete_team(team_id):
    """Delete a team after a confirmation page."""
    return _delete("team", team_id)


@bp.get("/ui/users")
@login_required(admin=True)
def users():
    """Every user with budget bar and models."""
    return _listing("user", ("user_id", "user_email", "user_role"))


@bp.post("/ui/users")
@login_required(admin=True)
def create_user():
    """Create a user from the form."""
    data = form_data(request.form, USER_FIELDS)
    _act(lambda: manage().new_user(current_app, data), "User created.")
    return redirect("/ui/users")


@bp.post("/ui/users/<user_id>/edit")
@login_required(admin=True)
def update_user(user_id):
    """Save a user's budget and models."""
    data = {"user_id": user_id,
            **form_data(request.form, ("user_email", "user_role", "budget_duration"),
                        partial=True)}
    _act(lambda: manage().update_user(current_app, data), "User updated.")
    return redirect("/ui/users")


@bp.post("/ui/users/<user_id>/delete")
@login_required(admin=True)
def delete_user(user_id):
    """Delete a user after a confirmation page."""
    return _delete("user", user_id)


def model_groups():
    """The router's live status of every group and deployment."""
    return router_of(current_app).status()["groups"]


@bp.get("/ui/models")
@login_required(admin=True)
def models():
    """Every group and deployment with its live state and a "check now" button."""
    return render_template("models.html", groups=model_groups(), check=None)


@bp.post("/ui/models/check")
@login_required(admin=True)
def check_model():
    """Run one deployment's health check now and show the result above the list."""
    check = router_of(current_app).check_health(request.form.get("model_id", ""))
    return render_template("models.html", groups=model_groups(), check=check)
