"""The router's settings, read once from ``router_settings`` (and ``litellm_settings`` where
LiteLLM reads them too). Validation happened in app.config_schema; here are the defaults."""
from dataclasses import dataclass, field

# LiteLLM's defaults.
COOLDOWN_TIME = 5.0
ALLOWED_FAILS = 3
MAX_FALLBACKS = 5
LATENCY_BUFFER = 0.0
HEALTH_CHECK_INTERVAL = 300.0


@dataclass
class RouterSettings:
    """Everything the router reads from the config, with defaults filled in."""

    strategy: str = "simple-shuffle"
    num_retries: int = 0
    retry_policy: dict = field(default_factory=dict)
    allowed_fails: int = ALLOWED_FAILS
    allowed_fails_policy: dict = field(default_factory=dict)
    cooldown_time: float = COOLDOWN_TIME
    disable_cooldowns: bool = False
    retry_after: float = 0.0
    timeout: float | None = None
    stream_timeout: float | None = None
    fallbacks: dict = field(default_factory=dict)
    context_window_fallbacks: dict = field(default_factory=dict)
    content_policy_fallbacks: dict = field(default_factory=dict)
    default_fallbacks: list = field(default_factory=list)
    max_fallbacks: int = MAX_FALLBACKS
    pre_call_checks: bool = False
    aliases: dict = field(default_factory=dict)
    latency_buffer: float = LATENCY_BUFFER
    background_health_checks: bool = False
    health_check_interval: float = HEALTH_CHECK_INTERVAL


def from_settings(settings):
    """RouterSettings for a loaded ``app.config.Settings``."""
    rs, ls, gs = (settings.router_settings, settings.litellm_settings,
                  settings.general_settings)

    def pick(name, default):
        for section in (rs, ls):
            if section.get(name) is not None:
                return section[name]
        return default

    args = rs.get("routing_strategy_args") or {}
    return RouterSettings(
        strategy=rs.get("routing_strategy") or "simple-shuffle",
        num_retries=settings.num_retries,
        retry_policy=dict(rs.get("retry_policy") or {}),
        allowed_fails=pick("allowed_fails", ALLOWED_FAILS),
        allowed_fails_policy=dict(rs.get("allowed_fails_policy") or {}),
        cooldown_time=pick("cooldown_time", COOLDOWN_TIME),
        disable_cooldowns=bool(pick("disable_cooldowns", False)),
        retry_after=float(rs.get("retry_after") or 0.0),
        timeout=rs.get("timeout"),
        stream_timeout=rs.get("stream_timeout"),
        fallbacks=pick("fallbacks", {}),
        context_window_fallbacks=pick("context_window_fallbacks", {}),
        content_policy_fallbacks=pick("content_policy_fallbacks", {}),
        default_fallbacks=list(pick("default_fallbacks", []) or []),
        max_fallbacks=_given(rs.get("max_fallbacks"), MAX_FALLBACKS),
        pre_call_checks=bool(rs.get("enable_pre_call_checks", False)),
        aliases=dict(rs.get("model_group_alias") or {}),
        latency_buffer=float(args.get("lowest_latency_buffer") or 0.0),
        background_health_checks=bool(gs.get("background_health_checks", False)),
        health_check_interval=_given(gs.get("health_check_interval"), HEALTH_CHECK_INTERVAL),
    )


def _given(value, default):
    return default if value is None else value
