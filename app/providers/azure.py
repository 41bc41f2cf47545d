"""Azure OpenAI: OpenAI's wire format at per-deployment URLs, with Azure's auth and quirks.

``azure/<deployment>`` calls
``{api_base}/openai/deployments/{deployment}/{chat/completions|embeddings|completions}
?api-version={api_version}`` with an ``api-key`` header (or ``azure_ad_token`` as a Bearer
token). Bodies are OpenAI's, so the OpenAI provider does the heavy lifting; this module adds
the URL, the credentials, Azure's content-filter errors and a stream clean-up: Azure opens a
stream with a prompt-filter chunk that has no choices (and sometimes empty id/model), which is
bookkeeping, not an answer chunk.
"""
import os
import time
from dataclasses import dataclass, replace
from urllib.parse import quote

import orjson

from app import errors
from app.providers import common
from app.providers.base import Outbound, Target, scrub
from app.providers.hosts import ALL, Host
from app.providers.openai import DEFAULT_PARAMS, PATHS, OpenAICompatible, override_headers

# Used when neither the request, the deployment nor AZURE_API_VERSION names one (latest GA).
DEFAULT_API_VERSION = "2024-10-21"
V1_VERSIONS = frozenset({"v1", "latest", "preview"})
HOST = Host(None, ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"), ("AZURE_API_BASE",), ALL)
_CREDENTIALS = ("api-key", "authorization")


@dataclass(frozen=True)
class AzureTarget(Target):
    """A Target that also knows the API version to send."""

    api_version: str = DEFAULT_API_VERSION


class AzureProvider(OpenAICompatible):
    """Azure OpenAI deployments."""

    def __init__(self, name="azure"):
        super().__init__(name, HOST)

    def prepare(self, deployment):
        """Resolve base, credentials and API version once, from the deployment or the env."""
        base = deployment.api_base or os.environ.get("AZURE_API_BASE")
        key = deployment.api_key or common.first_env(HOST.key_env)
        token = deployment.params.get("azure_ad_token") or os.environ.get("AZURE_AD_TOKEN")
        headers = {"Content-Type": "application/json"}
        if deployment.api_key or not token:
            if key:
                headers["api-key"] = key
        else:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(deployment.extra_headers or {})
        version = deployment.api_version or os.environ.get("AZURE_API_VERSION") \
            or DEFAULT_API_VERSION
        defaults = {k: deployment.params[k] for k in DEFAULT_PARAMS if k in deployment.params}
        return AzureTarget(resource_base(base), key, headers, defaults, version)

    def build_request(self, call):
        """The deployment URL with api-version, Azure's auth headers and the OpenAI body."""
        target, ov = call.target, call.overrides
        base = resource_base(ov.api_base) or target.base
        if not base:
            raise errors.InvalidRequestError(
                f"Deployment {call.deployment.model_name!r} (azure) has no api_base; set "
                "litellm_params.api_base or AZURE_API_BASE", param="api_base")
        headers = target.headers
        if ov.api_key or ov.api_base or ov.organization or ov.extra_headers:
            headers = azure_headers(headers, ov)
        if not any(k.lower() in _CREDENTIALS for k in headers):
            raise errors.AuthenticationError(
                "No API key for azure: set litellm_params.api_key (or azure_ad_token) or "
                "AZURE_API_KEY, or send api_key in the request")
        body = call.body
        if target.defaults:
            body = {**target.defaults, **body}
        body["model"] = call.deployment.upstream_model
        url = deployment_url(base, call.deployment.upstream_model, call.endpoint,
                             ov.api_version or target.api_version)
        return Outbound(url, headers, orjson.dumps(body))

    def iter_events(self, call, response):
        """OpenAI chunks minus Azure's bookkeeping, all under one id and created."""
        ids = StreamIds(call.endpoint, call.deployment.upstream_model)
        for chunk, data in self.chunks(call, response):
            out = ids.fix(chunk, data)
            if out is not None:
                yield out

    def parse_error(self, call, status, content, headers):
        """Azure's error body -> the tree; content filtering is content_policy_violation."""
        err = _error_object(content)
        if err is None:
            return super().parse_error(call, status, content, headers)
        message = scrub(call, str(err.get("message") or f"azure error (HTTP {status})"))
        code = str(err.get("code") or "")
        inner = err.get("innererror") if isinstance(err.get("innererror"), dict) else {}
        if code == "content_filter" or inner.get("code") == "ResponsibleAIPolicyViolation":
            return errors.ContentPolicyError(message, param=err.get("param"))
        if code == "DeploymentNotFound":
            return errors.ModelNotFoundError(message, param="model")
        # Azure's numeric codes ("401", "429") say nothing the status does not: keep ours.
        return errors.from_upstream(status, message, param=err.get("param"),
                                    code=None if code.isdigit() or not code else code,
                                    retry_after=retry_after(headers))


def resource_base(base):
    """The resource endpoint of an api_base (a trailing ``/``, ``/openai`` or ``/openai/v1``,
    the base Microsoft's v1 examples give, is dropped)."""
    if not base:
        return None
    base = base.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if base.endswith(suffix):
            return base[:-len(suffix)]
    return base


def deployment_url(base, deployment, endpoint, api_version):
    """``{base}/openai/deployments/{deployment}/{path}?api-version={version}``.

    The version-less v1 API (``api_version: v1``, ``latest`` or ``preview``) lives at
    ``{base}/openai/v1/{path}`` and takes the deployment as the body's model instead.
    """
    if api_version in V1_VERSIONS:
        query = "?api-version=preview" if api_version == "preview" else ""
        return f"{base}/openai/v1{PATHS[endpoint]}{query}"
    return (f"{base}/openai/deployments/{quote(deployment, safe='')}{PATHS[endpoint]}"
            f"?api-version={quote(api_version, safe='')}")


def azure_headers(headers, ov):
    """Apply request overrides: a client key replaces ours, a client base never gets ours."""
    if ov.api_key or ov.api_base:
        headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
    if ov.api_key:
        headers["api-key"] = ov.api_key
    # organization and extra_headers are applied exactly as for OpenAI.
    return override_headers(headers, replace(ov, api_key=None, api_base=None))


def retry_after(headers):
    """Retry-After in seconds, from ``retry-after`` or Azure's ``retry-after-ms``."""
    value = headers.get("retry-after")
    if value is None and headers.get("retry-after-ms"):
        try:
            value = f"{float(headers['retry-after-ms']) / 1000:g}"
        except ValueError:
            value = None
    return value


class StreamIds:
    """Drops Azure's bookkeeping chunks and gives the rest one id, created and model."""

    def __init__(self, endpoint, model):
        self.object = "chat.completion.chunk" if endpoint == "chat" else "text_completion"
        self.id = self.created = None
        self.prefix = "chatcmpl-" if endpoint == "chat" else "cmpl-"
        self.model = model

    def fix(self, chunk, raw):
        """The chunk to forward (raw when it needed no change), or None to drop it."""
        choices = [c for c in chunk.get("choices") or () if isinstance(c, dict)
                   and ("delta" in c or "text" in c or c.get("finish_reason"))]
        if not choices and not chunk.get("usage"):
            return None  # prompt_filter_results, or a filter annotation of earlier output
        if self.id is None:
            self.id = _str(chunk.get("id"), self.prefix) or self.prefix + common.chat_id()[9:]
            self.created = chunk.get("created") or int(time.time())
            self.model = _str(chunk.get("model")) or self.model
        wanted = {"id": self.id, "object": self.object, "created": self.created,
                  "model": self.model}
        if choices == chunk.get("choices") and all(chunk.get(k) == v for k, v in wanted.items()):
            return raw
        for choice in choices:
            if "delta" not in choice and self.object == "chat.completion.chunk":
                choice["delta"] = {}
        chunk.update(wanted, choices=choices)
        return orjson.dumps(chunk)


def _str(value, prefix=""):
    return value if isinstance(value, str) and value.startswith(prefix) and value else None


def _error_object(content):
    try:
        err = orjson.loads(content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return err if isinstance(err, dict) else None
