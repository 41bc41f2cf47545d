"""OpenAI-compatible hosts as data: one row per provider, no code.

A row gives the default base URL (ending where OpenAI's `/v1` would), the environment variables
for key and base (LiteLLM's names), and which endpoints the host serves. `base=None` means the
deployment must give `api_base` (self-hosted servers).
"""
from dataclasses import dataclass

CHAT = frozenset({"chat"})
CHAT_EMBED = frozenset({"chat", "embeddings"})
ALL = frozenset({"chat", "embeddings", "completions"})


@dataclass(frozen=True)
class Host:
    """One OpenAI-compatible host."""

    base: str | None
    key_env: tuple
    base_env: tuple = ()
    endpoints: frozenset = CHAT
    key_required: bool = True
    # Documented to honour stream_options.include_usage: streams are then always costed from
    # the provider's own numbers (the extra usage chunk is not shown to clients that did not ask).
    stream_usage: bool = False


HOSTS = {
    "openai": Host("https://api.openai.com/v1", ("OPENAI_API_KEY",),
                   ("OPENAI_API_BASE", "OPENAI_BASE_URL"), ALL, stream_usage=True),
    "groq": Host("https://api.groq.com/openai/v1", ("GROQ_API_KEY",), ("GROQ_API_BASE",)),
    "together_ai": Host("https://api.together.xyz/v1", ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
                        ("TOGETHERAI_API_BASE",), ALL),
    "deepseek": Host("https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",), ("DEEPSEEK_API_BASE",),
                     stream_usage=True),
    "fireworks_ai": Host("https://api.fireworks.ai/inference/v1",
                         ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"),
                         ("FIREWORKS_AI_API_BASE",), ALL),
    "openrouter": Host("https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",),
                       ("OPENROUTER_API_BASE",), frozenset({"chat", "completions"})),
    "mistral": Host("https://api.mistral.ai/v1", ("MISTRAL_API_KEY",), ("MISTRAL_API_BASE",),
                    CHAT_EMBED),
    "xai": Host("https://api.x.ai/v1", ("XAI_API_KEY",), ("XAI_API_BASE",)),
    "perplexity": Host("https://api.perplexity.ai", ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
                       ("PERPLEXITY_API_BASE",)),
    "deepinfra": Host("https://api.deepinfra.com/v1/openai", ("DEEPINFRA_API_KEY",),
                      ("DEEPINFRA_API_BASE",), ALL),
    "cerebras": Host("https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",), ("CEREBRAS_API_BASE",)),
    "hosted_vllm": Host(None, ("HOSTED_VLLM_API_KEY",), ("HOSTED_VLLM_API_BASE",), ALL,
                        key_required=False, stream_usage=True),
    "lm_studio": Host("http://localhost:1234/v1", ("LM_STUDIO_API_KEY",), ("LM_STUDIO_API_BASE",),
                      ALL, key_required=False),
}
