"""The routing table: public model names -> routes, with aliases and wildcard entries.

A route is ``(deployment, provider, target)``. Entries sharing a ``model_name`` form a group.
``router_settings.model_group_alias`` maps another public name onto a group. Wildcard entries
(``model_name: "*"`` or ``"anthropic/*"``, ``litellm_params.model: "*"`` / ``"anthropic/*"``)
serve a name no other entry has, passing the requested name through; the deployment made for
each such name is kept (up to WILDCARD_CACHE names) so its id and state stay stable.
"""
import dataclasses
import fnmatch

from app import errors
from app.providers import get_provider, resolve_model

WILDCARD_CACHE = 1024


class Table:
    """Groups of routes by public name."""

    def __init__(self, deployments, aliases):
        self.groups = {}
        self.wildcards = []  # (pattern, deployment, provider or None)
        for dep in deployments:
            if dep.upstream_model == "*":
                provider = None if dep.provider == "*" else get_provider(dep.provider)
                self.wildcards.append((dep.model_name, dep, provider))
                continue
            provider = get_provider(dep.provider)
            self.groups.setdefault(dep.model_name, []).append(
                (dep, provider, provider.prepare(dep)))
        self.aliases = {name: a for name, a in aliases.items() if name not in self.groups}
        self._made = {}

    def public(self):
        """Public names for /v1/models: groups, then aliases not marked hidden."""
        names = {name: routes for name, routes in self.groups.items()}
        for name, alias in self.aliases.items():
            if not alias["hidden"] and alias["model"] in self.groups:
                names[name] = self.groups[alias["model"]]
        return names

    def lookup(self, model):
        """The routes of ``model`` (group, alias or wildcard), or None."""
        routes = self.groups.get(model)
        if routes is None and model in self.aliases:
            routes = self.groups.get(self.aliases[model]["model"])
        if routes is None and self.wildcards:
            routes = self._wildcard(model)
        return routes

    def _wildcard(self, model):
        made = self._made.get(model)
        if made is not None:
            return made
        routes = []
        for pattern, dep, provider in self.wildcards:
            if not fnmatch.fnmatchcase(model, pattern):
                continue
            route = self._make(model, pattern, dep, provider)
            if route is not None:
                routes.append(route)
        if routes and len(self._made) < WILDCARD_CACHE:
            self._made[model] = routes
        return routes or None

    @staticmethod
    def _make(model, pattern, dep, provider):
        # "anthropic/*" -> the part after the prefix; "*" -> resolve the name like a config does.
        if provider is not None:
            prefix = pattern[:-1] if pattern.endswith("*") else ""
            upstream = model[len(prefix):] if model.startswith(prefix) else model
        else:
            try:
                name, upstream = resolve_model(model)
            except ValueError:
                return None
            provider = get_provider(name)
        made = dataclasses.replace(dep, upstream_model=upstream, provider=provider.name,
                                   model=f"{provider.name}/{upstream}")
        return made, provider, provider.prepare(made)


def not_found(model):
    """The 404 for a model no entry serves."""
    return errors.ModelNotFoundError(
        f"The model `{model}` does not exist or you do not have access to it.", param="model")
