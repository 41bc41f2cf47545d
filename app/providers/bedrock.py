"""AWS Bedrock: chat through the Converse / ConverseStream APIs, embeddings through InvokeModel.

A Claude deployment takes an Anthropic Messages body (``/v1/messages``) natively through
InvokeModel instead (``bedrock_messages``; ``converse/<model>`` keeps it on Converse).
Requests are signed with SigV4 by botocore (or carry a Bedrock API key as a Bearer token);
ConverseStream answers in AWS's binary event-stream framing, read with botocore's parser.
botocore is imported lazily: it costs ~25 MB and start-up time in gateways without Bedrock.
Chat translation lives in ``bedrock_convert``, the Titan / Cohere embedding bodies in
``bedrock_embeddings``.
"""
import functools
import logging
import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import orjson

from app import errors
from app.providers import bedrock_convert as convert
from app.providers.bedrock_embeddings import (embedding_batches, embedding_family,
                                              embedding_inputs, embedding_request,
                                              embeddings_of)
from app.providers import bedrock_messages as native
from app.providers import common
from app.providers.anthropic_stream import usage_of
from app.providers.base import (Call, Outbound, Provider, Target, json_or_502, scrub,
                                stream_body)

log = logging.getLogger("switchboard")

REGION_ENV = ("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION")
ENDPOINT_ENV = "AWS_BEDROCK_RUNTIME_ENDPOINT"
TOKEN_ENV = "AWS_BEARER_TOKEN_BEDROCK"
STREAM_TYPE = "application/vnd.amazon.eventstream"
TOKEN_COUNT_HEADER = "x-amzn-bedrock-input-token-count"
# Deployment litellm_params that are request parameters (sent unless the request sets them).
DEFAULT_PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "top_k",
                  "reasoning_effort", "additionalModelRequestFields", *convert.PASSTHROUGH)
EMBED_DEFAULT_PARAMS = ("dimensions", "input_type", "truncate", "normalize")
_HOST_REGION = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com")
# Bedrock answers auth failures with these types (HTTP 403); OpenAI clients expect a 401.
_AUTH_TYPES = frozenset({"UnrecognizedClientException", "InvalidSignatureException",
                         "ExpiredTokenException", "IncompleteSignatureException",
                         "MissingAuthenticationTokenException", "InvalidClientTokenId",
                         "SignatureDoesNotMatch"})
_CONTEXT = re.compile(r"too long|too many (?:input |total )?tokens|context (?:length|window)"
                      r"|maximum context|exceeds? the maximum (?:number of )?(?:input )?tokens",
                      re.I)
_SAFETY = re.compile(r"content filter|blocked by (?:the )?(?:content|guardrail)", re.I)
# Exception frames of ConverseStream -> HTTP status of the same-named exception.
_STREAM_STATUS = {"throttlingException": 429, "validationException": 400,
                  "modelStreamErrorException": 424, "internalServerException": 500,
                  "serviceUnavailableException": 503, "modelTimeoutException": 408}


@dataclass(frozen=True)
class BedrockTarget(Target):
    """What one Bedrock deployment needs: endpoint, region, model id and credentials."""

    region: str = "us-east-1"
    model_id: str = ""
    embed_defaults: dict = field(default_factory=dict)
    credentials: object = None  # botocore Credentials (static or refreshable), or None


class BedrockProvider(Provider):
    """AWS Bedrock Converse."""

    endpoints = frozenset({"chat", "embeddings"})

    def __init__(self, name="bedrock"):
        self.name = name

    def prepare(self, deployment):
        """Resolve endpoint, region and credentials once (the AWS chain is read here only)."""
        params = deployment.params
        region = params.get("aws_region_name") or common.first_env(REGION_ENV)
        base = deployment.api_base or params.get("aws_bedrock_runtime_endpoint") \
            or os.environ.get(ENDPOINT_ENV)
        if not base and region:
            base = f"https://bedrock-runtime.{region}.amazonaws.com"
        token = deployment.api_key or os.environ.get(TOKEN_ENV)
        model_id = deployment.upstream_model
        model_id = model_id[len("converse/"):] if model_id.startswith("converse/") else model_id
        return BedrockTarget(
            base.rstrip("/") if base else None, token,
            {"Content-Type": "application/json", **(deployment.extra_headers or {})},
            {k: params[k] for k in DEFAULT_PARAMS if k in params},
            region=region or _region_of(base) or "us-east-1", model_id=model_id,
            embed_defaults={k: params[k] for k in EMBED_DEFAULT_PARAMS if k in params},
            credentials=None if token else _credentials(deployment.model_name, params))

    # -- requests --------------------------------------------------------------------------------

    def speaks_messages_for(self, deployment):
        """Claude models take Anthropic Messages bodies natively, unless written ``converse/``."""
        model = deployment.upstream_model
        return native.is_claude(model) and not model.startswith("converse/")

    def build_request(self, call):
        """The signed Converse, ConverseStream or InvokeModel request for a call."""
        target, base = call.target, _base(call)
        if call.endpoint != "chat":
            family = embedding_family(target.model_id)
            body = embedding_request(call, family, target.model_id, target.embed_defaults)
            return self.signed(call, base, "invoke", body, {"Accept": "application/json"})
        if self._native(call):
            body = native.invoke_body(call.native.body, call.native.beta)
            if call.stream:
                return self.signed(call, base, "invoke-with-response-stream", body)
            return self.signed(call, base, "invoke", body, {"Accept": "application/json"})
        action = "converse-stream" if call.stream else "converse"
        body = convert.converse_request(call, target.defaults, target.model_id)
        return self.signed(call, base, action, body)

    @staticmethod
    def signed(call, base, action, body, headers=None, model_id=None):
        """POST ``body`` to ``{base}/model/{modelId}/{action}``, SigV4-signed or with an API key."""
        target, ov = call.target, call.overrides
        headers = {**target.headers, **(headers or {})}
        url = f"{base}/model/{quote(model_id or target.model_id, safe='-._~')}/{action}"
        for name, value in (ov.extra_headers or {}).items():
            for existing in [k for k in headers if k.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        data = orjson.dumps(body)
        # A client-chosen base never receives the deployment's API key (SigV4 is bound to host).
        token = ov.api_key or (None if ov.api_base else target.api_key)
        if token:
            headers["Authorization"] = f"Bearer {token}"
            return Outbound(url, headers, data)
        region = (_region_of(base) if ov.api_base else None) or target.region
        return Outbound(url, sign(target.credentials, region, url, headers, data), data)

    def complete(self, call):
        """Chat through the shared flow; embeddings as one InvokeModel call per batch."""
        if call.endpoint != "embeddings":
            return super().complete(call)
        family = embedding_family(call.target.model_id)
        vectors, tokens = [], 0
        for batch in embedding_batches(family, embedding_inputs(call.body)):
            part = Call(call.endpoint, {**call.body, "input": batch}, call.overrides)
            part.bind((call.deployment, call.provider, call.target), call.session, call.timeout,
                      call.drop_params)
            resp = self._send(part, stream=False)
            call.api_key = part.api_key
            found, count = embeddings_of(family, json_or_502(resp.content, self.name), len(batch))
            vectors += found
            tokens += count if count is not None else int(resp.headers.get(TOKEN_COUNT_HEADER)
                                                          or 0)
        result = common.embeddings_response(vectors, call.target.model_id, tokens,
                                            call.body.get("encoding_format"))
        call.usage = result["usage"]
        return result

    def parse_response(self, call, content):
        """Converse JSON -> chat.completion; a native Claude ``message`` as it came."""
        data = json_or_502(content, self.name)
        if self._native(call):
            call.usage = usage_of(data.get("usage"))
            return data
        result = convert.chat_response(data, call.target.model_id)
        call.usage = result["usage"]
        return result

    def iter_events(self, call, response):
        """ConverseStream event-stream frames -> OpenAI chunks (a native Claude stream: Anthropic
        SSE events); raises if the stream breaks."""
        if self._native(call):
            return native.relay_events(call, self._messages(call, response))
        return self._chunks(call, response)

    def count_tokens(self, call):
        """Bedrock's own input token count (CountTokens) for the native body of ``call``; None
        when Bedrock cannot count for this model (the caller estimates instead)."""
        body = native.count_request(call.native.body, call.native.beta)
        out = self.signed(call, _base(call), "count-tokens", body,
                          model_id=native.count_model(call.target.model_id))
        try:
            resp = self.send(call, out, stream=False)
        except errors.InvalidRequestError as exc:
            if native.cannot_count(exc):
                return None
            raise
        return native.input_tokens(json_or_502(resp.content, self.name))

    def _native(self, call):
        return call.native is not None and self.speaks_messages_for(call.deployment)

    def _chunks(self, call, response):
        translator = convert.StreamTranslator(call.target.model_id, common.wants_usage(call.body))
        for message in self._messages(call, response):
            headers = message.headers
            yield from translator.event(headers.get(":event-type"), _payload(message.payload))
            if translator.usage:
                call.usage = translator.usage
            if translator.done:
                return
        # metadata (usage) is always the last event: without it the stream was cut short.
        raise errors.BadGatewayError(f"{self.name} closed the stream before it was complete")

    def _messages(self, call, response):
        """The event messages of an event-stream answer; exception and error frames raise."""
        for message in _frames(stream_body(response, self.name, STREAM_TYPE)):
            headers = message.headers
            kind = headers.get(":message-type", "event")
            if kind == "exception":
                raise stream_error(call, headers.get(":exception-type"), message.payload)
            if kind == "error":
                raise errors.BadGatewayError(scrub(call, f"{self.name} stream error "
                                                   f"{headers.get(':error-code')}: "
                                                   f"{headers.get(':error-message')}"))
            yield message

    def parse_error(self, call, status, content, headers):
        """Bedrock's error (x-amzn-ErrorType + {"message"}) -> the exception tree."""
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            data = None
        data = data if isinstance(data, dict) else {}
        kind = (headers.get("x-amzn-errortype") or data.get("__type") or "").split(":")[0]
        kind = kind.rsplit("#", 1)[-1]
        message = data.get("message") or data.get("Message") \
            or content.decode("utf-8", "replace")[:500] or f"{self.name} error (HTTP {status})"
        return map_error(status, kind, scrub(call, str(message)), headers.get("retry-after"))


# -- embeddings (InvokeModel) ---------------------------------------------------------------------

def map_error(status, kind, message, retry_after=None):
    """One Bedrock error (HTTP status, exception name, message) as a SwitchboardError."""
    text = f"{kind}: {message}" if kind else message
    if kind in _AUTH_TYPES:
        return errors.AuthenticationError(text)
    if kind in ("ThrottlingException", "ServiceQuotaExceededException") or status == 429:
        return errors.RateLimitError(text, retry_after=retry_after)
    if status == 400 and _CONTEXT.search(message):
        return errors.ContextLengthExceededError(text)
    if status == 400 and _SAFETY.search(message):
        return errors.ContentPolicyError(text)
    if kind == "ModelErrorException" or status == 424:  # the model itself failed
        return errors.BadGatewayError(text)
    return errors.from_upstream(status, text, retry_after=retry_after)


def stream_error(call, exception_type, payload):
    """A ConverseStream exception frame as a SwitchboardError."""
    try:
        message = orjson.loads(payload).get("message")
    except (orjson.JSONDecodeError, AttributeError):
        message = None
    message = scrub(call, str(message or payload.decode("utf-8", "replace")[:500]))
    status = _STREAM_STATUS.get(exception_type, 500)
    name = (exception_type or "error")[:1].upper() + (exception_type or "error")[1:]
    return map_error(status, name, message)


def sign(credentials, region, url, headers, data):
    """Headers with SigV4 added (Authorization, X-Amz-Date, X-Amz-Security-Token)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    if credentials is None:
        raise errors.AuthenticationError(
            "No AWS credentials for bedrock: set aws_access_key_id / aws_secret_access_key "
            "(or aws_profile_name) in litellm_params, the AWS_* environment, or an API key")
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    # Refreshable credentials (profiles with SSO, instance roles) renew here when due.
    SigV4Auth(credentials.get_frozen_credentials(), "bedrock", region).add_auth(request)
    return dict(request.headers.items())


def _credentials(model_name, params):
    """Static credentials from the deployment, else the standard AWS chain (env, profile...)."""
    from botocore.credentials import Credentials

    key, secret = params.get("aws_access_key_id"), params.get("aws_secret_access_key")
    if key and secret:
        return Credentials(key, secret, params.get("aws_session_token"))
    found = _chain_credentials(params.get("aws_profile_name"))
    if found is None:
        log.warning("bedrock deployment %r: no AWS credentials found (deployment, AWS_* "
                    "environment, profile or instance role)", model_name)
    return found


@functools.cache
def _chain_credentials(profile):
    # Once per profile and worker: off AWS, the chain's instance-metadata probe takes seconds.
    import botocore.exceptions
    import botocore.session

    try:
        return botocore.session.Session(profile=profile).get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        log.warning("AWS profile %r: %s", profile, exc)
        return None


def _frames(chunks):
    """Decoded event-stream messages; a malformed frame is the provider's 502."""
    from botocore.eventstream import EventStreamBuffer, ParserError

    buffer = EventStreamBuffer()
    try:
        for chunk in chunks:
            buffer.add_data(chunk)
            yield from buffer
    except ParserError:
        raise errors.BadGatewayError("bedrock sent a malformed event-stream frame") from None


def _payload(payload):
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError("bedrock sent a stream event that is not JSON") from None
    if not isinstance(data, dict):
        raise errors.BadGatewayError("bedrock sent a stream event that is not a JSON object")
    return data


def _base(call):
    """The runtime endpoint for a call (the client's api_base, else the deployment's)."""
    base = (call.overrides.api_base or "").rstrip("/") or call.target.base
    if not base:
        raise errors.InvalidRequestError(
            f"Deployment {call.deployment.model_name!r} (bedrock) has no region: set "
            "litellm_params.aws_region_name (or AWS_REGION_NAME), or api_base",
            param="aws_region_name")
    return base


def _region_of(base):
    match = _HOST_REGION.search(urlsplit(base).hostname or "") if base else None
    return match.group(1) if match else None
