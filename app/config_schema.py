"""marshmallow schemas for the LiteLLM-format config, and the key lists behind the warnings.

Schemas keep keys they do not declare (``unknown = INCLUDE``): app.config warns about unknown
keys once and otherwise ignores them, so a real LiteLLM config loads unchanged.
"""
import re

from marshmallow import INCLUDE, Schema, ValidationError, fields, pre_load
from marshmallow.validate import Length, OneOf, Range

from app.cache.config import CacheParamsSchema

SECTIONS = ("litellm_settings", "general_settings", "router_settings")
ENTRY_KEYS = frozenset({"model_name", "litellm_params", "params", "model_info"})
# LiteLLM sections we accept without using them, so a real LiteLLM config loads quietly.
TOLERATED = frozenset("""callback_settings guardrails credential_list mcp_servers search_tools
    vector_store_registry include assistant_settings files_settings finetune_settings prompts
    pass_through_endpoints""".split())
# Common LiteLLM keys per section; anything else gets a warning (likely a typo) but is kept.
KNOWN = {name: frozenset(text.split()) for name, text in {
    "litellm_settings": """drop_params request_timeout num_retries set_verbose json_logs cache
        success_callback failure_callback callbacks service_callbacks turn_off_message_logging
        redact_user_api_key_info cache_params fallbacks default_fallbacks context_window_fallbacks
        content_policy_fallbacks modify_params force_ipv4 ssl_verify max_budget budget_duration
        require_auth_for_metrics_endpoint allowed_fails cooldown_time disable_cooldowns""",
    "general_settings": """master_key allow_client_side_credentials allow_private_api_base
        max_request_size_mb max_response_size_mb access_log database_url store_model_in_db
        database_connection_pool_limit database_connection_timeout alerting alerting_threshold
        alert_types custom_auth disable_spend_logs enable_jwt_auth litellm_jwtauth allowed_routes
        public_routes allowed_ips key_management_system max_parallel_requests
        global_max_parallel_requests background_health_checks health_check_interval
        infer_model_from_keys pass_through_endpoints forward_client_headers_to_llm_api
        webhook jsonl langfuse callback_queue ui store_prompts_in_spend_logs spend_logs_queue
        responses_retention_days""",
    "router_settings": """routing_strategy routing_strategy_args num_retries timeout
        stream_timeout retry_after allowed_fails allowed_fails_policy cooldown_time
        disable_cooldowns redis_host redis_port redis_password redis_db redis_url retry_policy
        enable_pre_call_checks model_group_alias fallbacks context_window_fallbacks
        content_policy_fallbacks default_fallbacks max_fallbacks enable_tag_filtering
        redis_socket_timeout""",
}.items()}


class _Int(fields.Integer):
    # Non-strict so "100" from os.environ/ loads, but never silently truncate 1.5 to 1.
    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


class _AccessLog(fields.Raw):
    default_error_messages = {"invalid": "Must be 'stdout', 'off' or a file path."}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "")):
            return None
        if isinstance(value, str):
            return value
        raise self.make_error("invalid")


def _positive(allow_none=False):
    return fields.Float(allow_none=allow_none, validate=Range(min=0, min_inclusive=False))


class _Open(Schema):
    """Keeps keys it does not declare: unknown keys are warned about, never rejected."""

    class Meta:
        unknown = INCLUDE


def _rename(data, alias, name):
    """Move ``alias`` to ``name`` in a mapping; giving both is an error on ``alias``."""
    if not isinstance(data, dict) or alias not in data:
        return data
    if name in data:
        raise ValidationError(f"give either {name} or {alias}, not both", field_name=alias)
    data = dict(data)
    data[name] = data.pop(alias)
    return data


class _ClientsideParam(fields.Raw):
    """A parameter name, or LiteLLM's {"api_base": "<regex>"} item (the regex must compile)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and set(value) == {"api_base"} \
                and isinstance(value["api_base"], str):
            try:
                re.compile(value["api_base"])
            except re.error as exc:
                raise ValidationError(f"api_base pattern is not a valid regex: {exc}") from None
            return value
        raise ValidationError('Must be a parameter name or {"api_base": "<regex>"}.')


class _ParamsSchema(_Open):
    model = fields.String(required=True, validate=Length(min=1))
    api_key = fields.String(allow_none=True)
    api_base = fields.String(allow_none=True)
    api_version = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)
    timeout = _positive(allow_none=True)
    stream_timeout = _positive(allow_none=True)
    rpm = _Int(allow_none=True, validate=Range(min=0))
    tpm = _Int(allow_none=True, validate=Range(min=0))
    weight = fields.Float(allow_none=True, validate=Range(min=0))
    max_retries = _Int(allow_none=True, validate=Range(min=0))
    num_retries = _Int(allow_none=True, validate=Range(min=0))
    extra_headers = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    mock_response = fields.String(allow_none=True)
    configurable_clientside_auth_params = fields.List(_ClientsideParam(), allow_none=True)
    drop_params = fields.Boolean(allow_none=True)
    input_cost_per_token = fields.Float(allow_none=True)
    output_cost_per_token = fields.Float(allow_none=True)

    @pre_load
    def _aliases(self, data, **kwargs):
        return _rename(data, "base_url", "api_base")


class _EntrySchema(_Open):
    model_name = fields.String(required=True, validate=Length(min=1))
    litellm_params = fields.Nested(_ParamsSchema, required=True)
    model_info = fields.Dict(keys=fields.String(), allow_none=True)

    @pre_load
    def _aliases(self, data, **kwargs):
        return _rename(data, "params", "litellm_params")


class _GeneralSettings(_Open):
    master_key = fields.String(allow_none=True)
    background_health_checks = fields.Boolean()
    health_check_interval = _positive()
    allow_client_side_credentials = fields.Boolean()
    allow_private_api_base = fields.Boolean()
    max_request_size_mb = _positive()
    access_log = _AccessLog(allow_none=True)
    ui = fields.Boolean()   # the /ui dashboard (default on)


STRATEGIES = ("simple-shuffle", "least-busy", "latency-based-routing",
              "usage-based-routing", "usage-based-routing-v2")
# LiteLLM's retry_policy / allowed_fails_policy names, one per error class.
RETRY_POLICY_KEYS = ("BadRequestErrorRetries", "AuthenticationErrorRetries",
                     "TimeoutErrorRetries", "RateLimitErrorRetries",
                     "ContentPolicyViolationErrorRetries", "InternalServerErrorRetries")
FAILS_POLICY_KEYS = ("BadRequestErrorAllowedFails", "AuthenticationErrorAllowedFails",
                     "TimeoutErrorAllowedFails", "RateLimitErrorAllowedFails",
                     "ContentPolicyViolationErrorAllowedFails",
                     "InternalServerErrorAllowedFails")


class _Counts(fields.Dict):
    """A mapping of LiteLLM's policy names to counts >= 0; unknown names are errors."""

    def __init__(self, names, **kwargs):
        super().__init__(keys=fields.String(validate=OneOf(names, error=(
            "unknown key {input}; expected one of: " + ", ".join(names)))),
            values=_Int(validate=Range(min=0)), allow_none=True, **kwargs)


class _Fallbacks(fields.Raw):
    """LiteLLM's ``[{"group": ["other", ...]}, ...]`` (a bare mapping is accepted too)."""

    default_error_messages = {"invalid": 'Must be a list of {{"<model group>": ["<fallback '
                                         'group>", ...]}} mappings.'}

    def _deserialize(self, value, attr, data, **kwargs):
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list):
            raise self.make_error("invalid")
        out = {}
        for item in items:
            if not isinstance(item, dict):
                raise self.make_error("invalid")
            for group, targets in item.items():
                targets = [targets] if isinstance(targets, str) else targets
                if not isinstance(targets, list) or not all(
                        isinstance(t, str) and t for t in targets):
                    raise self.make_error("invalid")
                out[str(group)] = list(targets)
        return out


class _Alias(fields.Raw):
    """model_group_alias values: a group name or {"model": name, "hidden": bool}."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value:
            return {"model": value, "hidden": False}
        if isinstance(value, dict) and isinstance(value.get("model"), str) \
                and isinstance(value.get("hidden", False), bool):
            return {"model": value["model"], "hidden": value.get("hidden", False)}
        raise ValidationError('Must be a model group name or {"model": "<group>", "hidden": '
                              'true|false}.')


class _StrategyArgs(_Open):
    lowest_latency_buffer = fields.Float(validate=Range(min=0))
    ttl = _positive()


class _RouterSettings(_Open):
    num_retries = _Int(validate=Range(min=0))
    routing_strategy = fields.String(validate=OneOf(STRATEGIES, error=(
        "unknown routing strategy {input}; expected one of: " + ", ".join(STRATEGIES))))
    routing_strategy_args = fields.Nested(_StrategyArgs, allow_none=True)
    retry_policy = _Counts(RETRY_POLICY_KEYS)
    allowed_fails_policy = _Counts(FAILS_POLICY_KEYS)
    allowed_fails = _Int(validate=Range(min=0))
    cooldown_time = fields.Float(validate=Range(min=0))
    disable_cooldowns = fields.Boolean()
    retry_after = fields.Float(validate=Range(min=0))
    timeout = _positive(allow_none=True)
    stream_timeout = _positive(allow_none=True)
    max_fallbacks = _Int(validate=Range(min=0))
    fallbacks = _Fallbacks(allow_none=True)
    context_window_fallbacks = _Fallbacks(allow_none=True)
    content_policy_fallbacks = _Fallbacks(allow_none=True)
    default_fallbacks = fields.List(fields.String(validate=Length(min=1)), allow_none=True)
    enable_pre_call_checks = fields.Boolean()
    model_group_alias = fields.Dict(keys=fields.String(), values=_Alias(), allow_none=True)
    redis_url = fields.String(allow_none=True)
    redis_host = fields.String(allow_none=True)
    redis_port = _Int(allow_none=True, validate=Range(min=1, max=65535))
    redis_password = fields.String(allow_none=True)
    redis_db = _Int(allow_none=True, validate=Range(min=0))
    redis_socket_timeout = _positive(allow_none=True)


class _LitellmSettings(_Open):
    drop_params = fields.Boolean()
    request_timeout = _positive()
    num_retries = _Int(validate=Range(min=0))
    # LiteLLM reads these here too; router_settings wins when both are given.
    allowed_fails = _Int(validate=Range(min=0))
    cooldown_time = fields.Float(validate=Range(min=0))
    disable_cooldowns = fields.Boolean()
    fallbacks = _Fallbacks(allow_none=True)
    context_window_fallbacks = _Fallbacks(allow_none=True)
    content_policy_fallbacks = _Fallbacks(allow_none=True)
    default_fallbacks = fields.List(fields.String(validate=Length(min=1)), allow_none=True)
    cache = fields.Boolean(allow_none=True)
    cache_params = fields.Nested(CacheParamsSchema, allow_none=True)


_NO_MODELS = "at least one model is required"


class _ConfigSchema(_Open):
    model_list = fields.List(
        fields.Nested(_EntrySchema), required=True, validate=Length(min=1, error=_NO_MODELS),
        error_messages={"required": _NO_MODELS, "null": _NO_MODELS})
    # allow_none: a section header with nothing under it (``litellm_settings:``) loads as None.
    litellm_settings = fields.Nested(_LitellmSettings, allow_none=True)
    general_settings = fields.Nested(_GeneralSettings, allow_none=True)
    router_settings = fields.Nested(_RouterSettings, allow_none=True)
    environment_variables = fields.Dict(keys=fields.String(), allow_none=True)


SCHEMA = _ConfigSchema()
