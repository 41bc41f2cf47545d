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


@bp.get("/ui/teams")
@login_required(admin=True)
def teams():
    """Every team with budget bar, members, models and limits."""
    rows = as_list(_act(lambda: manage().list_teams(current_app), None), "teams")
    query = request.args.get("q", "").strip()
    if query:
        rows = search(rows, query, ("team_id", "team_alias"))
    for row in rows:
        row["budget_pct"] = budget_percent(row)
    return render_template("teams.html", rows=rows, q=query)


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
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", what=f"team {team_id}",
                               action=f"/ui/teams/{team_id}/delete", back="/ui/teams")
    _act(lambda: manage().delete_teams(current_app, [team_id]), "Team deleted.")
    return redirect("/ui/teams")


@bp.get("/ui/users")
@login_required(admin=True)
def users():
    """Every user with budget bar and models."""
    rows = as_list(_act(lambda: manage().list_users(current_app), None), "users")
    query = request.args.get("q", "").strip()
    if query:
        rows = search(rows, query, ("user_id", "user_email", "user_role"))
    for row in rows:
        row["budget_pct"] = budget_percent(row)
    return render_template("users.html", rows=rows, q=query)


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
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", what=f"user {user_id}",
                               action=f"/ui/users/{user_id}/delete", back="/ui/users")
    _act(lambda: manage().delete_users(current_app, [user_id]), "User deleted.")
    return redirect("/ui/users")


def model_groups():
    """The router's live status, or the configured deployments in state "unknown"."""
    router = router_of(current_app)
    if hasattr(router, "status"):
        return router.status()["groups"], True
    groups = {}
    for dep in current_app.extensions["switchboard.settings"].model_list:
        groups.setdefault(dep.model_name, []).append({
            "id": dep.id, "provider": dep.provider, "model": dep.upstream_model,
            "api_base": dep.api_base, "healthy": None, "rpm_limit": dep.rpm,
            "tpm_limit": dep.tpm})
    return [{"model_name": k, "deployments": v} for k, v in groups.items()], False


@bp.get("/ui/models")
@login_required(admin=True)
def models():
    """Every group and deployment with its live state and a "check now" button."""
    groups, live = model_groups()
    return render_template("models.html", groups=groups, live=live, check=None)


@bp.post("/ui/models/check")
@login_required(admin=True)
def check_model():
    """Run one deployment's health check now and show the result above the list."""
    router = router_of(current_app)
    model_id = request.form.get("model_id", "")
    if hasattr(router, "check_health"):
        check = router.check_health(model_id)
    else:
        check = {"model_id": model_id, "healthy": None, "latency_ms": None,
                 "error": "Health checks arrive with the router; state unknown."}
    groups, live = model_groups()
    return render_template("models.html", groups=groups, live=live, check=check)
