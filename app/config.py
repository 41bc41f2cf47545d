"""Load and validate a LiteLLM-proxy-compatible ``config.yaml`` into ``Settings``.

``os.environ/NAME`` strings anywhere are replaced by that variable. Every problem is a
``ConfigError`` whose message starts with the key path (``model_list[0].litellm_params.model:
...``) or the file name; secret values never appear in errors, logs or reprs.
"""
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field

import yaml
from marshmallow import ValidationError

from app.config_schema import ENTRY_KEYS, KNOWN, SCHEMA, SECTIONS, TOLERATED

log = logging.getLogger("switchboard.config")

ENV_PREFIX = "os.environ/"
# Keys whose values are credentials: left out of generated ids.
_SECRET_KEY = re.compile(r"key|secret|token|password|credential|extra_headers", re.I)

class ConfigError(Exception):
    """The config is unusable; the message starts with the offending key path or file."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as written, so ``api_version: 2024-02-01`` stays a str."""


_Loader.yaml_implicit_resolvers = {
    ch: [r for r in rs if r[0] != "tag:yaml.org,2002:timestamp"]
    for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()}




@dataclass
class Deployment:
    """One model_list entry: a public model name bound to one upstream model."""

    id: str
    model_name: str
    model: str
    provider: str
    upstream_model: str
    params: dict = field(repr=False)
    model_info: dict = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    api_version: str | None = None
    organization: str | None = None
    timeout: float | None = None
    stream_timeout: float | None = None
    rpm: int | None = None
    tpm: int | None = None
    weight: float | None = None
    max_retries: int | None = None
    extra_headers: dict = field(default_factory=dict, repr=False)
    mock_response: str | None = None
    configurable_clientside_auth_params: list = field(default_factory=list)


_TYPED_PARAMS = ("api_key", "api_base", "api_version", "organization", "timeout",
                 "stream_timeout", "rpm", "tpm", "weight", "max_retries", "mock_response")


@dataclass
class Settings:
    """The validated config, ready for the app factory."""

    model_list: list
    by_name: dict = field(repr=False)
    litellm_settings: dict = field(repr=False)
    general_settings: dict = field(repr=False)
    router_settings: dict = field(repr=False)
    master_key: str | None = field(default=None, repr=False)
    drop_params: bool = False
    num_retries: int = 0
    request_timeout: float = 600.0
    allow_client_side_credentials: bool = False
    allow_private_api_base: bool = False
    max_request_size_mb: float = 32.0
    access_log: str | None = "stdout"
    source: str | None = None


def default_config():
    """The config used when none is given: one mock model called ``demo``."""
    return {"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}]}


def single_model_config(name):
    """A config serving one model under its own name (the CLI's ``--model NAME``)."""
    return {"model_list": [{"model_name": name, "litellm_params": {"model": name}}]}


def load_config(source=None):
    """Load, validate and resolve a config from None (default), a YAML path or a dict."""
    raw, path = _read_source(source)
    _apply_environment(raw)
    missing = []
    data = _resolve(raw, "", missing)
    if missing:
        raise ConfigError("; ".join(missing))
    _warn_unknown(data)
    try:
        loaded = SCHEMA.load(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_flatten(exc.messages, ""))) from None
    return _settings(loaded, path)


def _read_source(source):
    if source is None:
        return default_config(), None
    if isinstance(source, dict):
        return source, None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return _read_yaml(path), path
    raise TypeError(f"config source must be None, a path or a dict, not {type(source).__name__}")


def _read_yaml(path):
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not valid UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{path}: top level must be a mapping of sections "
                          f"(model_list, litellm_settings, ...), got {kind}")
    return data


def _yaml_problem(exc):
    """Describe a YAML error by position only; str(exc) would quote file lines (secrets)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {problem}"


def _apply_environment(raw):
    """Export environment_variables first, as LiteLLM does, so os.environ/ refs can use them."""
    errors = []
    section = _resolve(raw.get("environment_variables") or {}, "environment_variables", errors)
    if not isinstance(section, dict):
        errors.append("environment_variables: Not a valid mapping.")
    elif not errors:
        errors = [f"environment_variables.{name}: must be a string, number or boolean"
                  for name, value in section.items() if not isinstance(value, (str, int, float))]
    if errors:
        raise ConfigError("; ".join(errors))
    for name, value in section.items():
        try:
            os.environ[str(name)] = str(value)
        except (ValueError, OSError):  # empty, or "=" / NUL in the name
            raise ConfigError(f"environment_variables.{name}: not a valid variable name") from None


def _join(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _resolve(value, path, missing):
    """Copy ``value`` with every ``os.environ/NAME`` string replaced; record missing names."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        if name not in os.environ:
            missing.append(f"{path}: environment variable {name} is not set")
        return os.environ.get(name)
    if isinstance(value, dict):
        return {k: _resolve(v, _join(path, str(k)), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, _join(path, i), missing) for i, v in enumerate(value)]
    return value


def _warn_unknown(data):
    """Warn once per unknown key path; litellm_params is exempt (provider-specific keys)."""
    entries = data.get("model_list") if isinstance(data.get("model_list"), list) else []
    scopes = [(data, "", SCHEMA.fields.keys() | TOLERATED)]
    scopes += [(data[s], s, KNOWN[s]) for s in SECTIONS if isinstance(data.get(s), dict)]
    scopes += [(e, f"model_list[{i}]", ENTRY_KEYS) for i, e in enumerate(entries)
               if isinstance(e, dict)]
    for mapping, path, known in scopes:
        for key in (k for k in mapping if k not in known):
            log.warning("%s: unknown config key, not used by switchboard", _join(path, str(key)))


def _flatten(messages, path):
    """Turn marshmallow's nested error dict into ``path: message`` strings."""
    if isinstance(messages, dict):
        # "_schema" is the object itself; Dict fields file errors under "key"/"value".
        own = {"_schema"} | ({"key", "value"} if messages.keys() <= {"key", "value"} else set())
        for key, sub in messages.items():
            yield from _flatten(sub, path if key in own else _join(path, key))
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, path)
    else:
        yield f"{path or '<config>'}: {messages}"


# Settings fields read straight from one section; their defaults live on Settings itself.
_PICKED = {"litellm_settings": ("drop_params", "request_timeout"),
           "general_settings": ("master_key", "allow_client_side_credentials",
                                "allow_private_api_base", "max_request_size_mb", "access_log")}


def _settings(loaded, path):
    sections = {name: loaded.get(name) or {} for name in SECTIONS}
    picked = {key: sections[name][key]
              for name, keys in _PICKED.items() for key in keys if key in sections[name]}
    retries = sections["litellm_settings"].get(
        "num_retries", sections["router_settings"].get("num_retries", 0))
    deployments, by_name = _deployments(loaded["model_list"])
    return Settings(model_list=deployments, by_name=by_name, num_retries=retries, source=path,
                    **sections, **picked)


def _deployments(entries):
    """Build every Deployment; also group them by public name (several = load balancing)."""
    # Imported here, not at module level: app.providers may import modules that import us.
    from app.providers import resolve_model

    deployments, by_name, ids = [], {}, {}
    for index, entry in enumerate(entries):
        dep = _deployment(index, entry, resolve_model)
        if dep.id in ids:
            raise ConfigError(f"model_list[{index}].model_info.id: duplicate deployment id "
                              f"{dep.id!r} (also used by model_list[{ids[dep.id]}])")
        ids[dep.id] = index
        deployments.append(dep)
        by_name.setdefault(dep.model_name, []).append(dep)
    return deployments, by_name


def _deployment(index, entry, resolve_model):
    params = entry["litellm_params"]
    try:
        provider, upstream = _wildcard(params["model"]) or resolve_model(params["model"])
    except ValueError as exc:
        raise ConfigError(f"model_list[{index}].litellm_params.model: {exc}") from None
    info = entry.get("model_info") or {}
    dep_id = info.get("id")
    client_params = params.get("configurable_clientside_auth_params") or []
    return Deployment(
        id=str(dep_id) if dep_id is not None else _default_id(index, entry["model_name"], params),
        model_name=entry["model_name"], model=params["model"], provider=provider,
        upstream_model=upstream, params=params, model_info=info,
        extra_headers=params.get("extra_headers") or {},
        configurable_clientside_auth_params=client_params,
        **{name: params.get(name) for name in _TYPED_PARAMS})


def _wildcard(model):
    """("*", "*") or ("<provider>", "*") for LiteLLM's wildcard entries; the router resolves
    the requested name per request (app.router.table)."""
    if model == "*":
        return "*", "*"
    if model.endswith("/*"):
        from app.providers import resolve_model
        return resolve_model(model[:-2] + "/x")[0], "*"
    return None


def _default_id(index, model_name, params):
    """A short id stable across restarts and workers, with no secret in its input."""
    public = {k: v for k, v in params.items() if not _SECRET_KEY.search(k)}
    blob = json.dumps([model_name, public, index], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
