"""The provider registry: an explicit dict from prefix to provider.

A deployment's ``model`` is ``<provider>/<upstream model>`` as in LiteLLM (``groq/llama3-8b``,
``mock/demo``); bare OpenAI model names (``gpt-4o-mini``, ``text-embedding-3-small``) mean OpenAI.
"""
import re

from app.providers.anthropic import AnthropicProvider
from app.providers.azure import AzureProvider
from app.providers.bedrock import BedrockProvider
from app.providers.cohere import CohereProvider
from app.providers.gemini import GeminiProvider
from app.providers.hosts import HOSTS
from app.providers.mock import MockProvider
from app.providers.ollama import OllamaProvider
from app.providers.openai import OpenAICompatible

REGISTRY = {name: OpenAICompatible(name, host) for name, host in HOSTS.items()}
REGISTRY.update({
    "mock": MockProvider(),
    "azure": AzureProvider(),
    "anthropic": AnthropicProvider(),
    "gemini": GeminiProvider(),
    "cohere": CohereProvider(),
    "bedrock": BedrockProvider(),
    "ollama": OllamaProvider("ollama"),
    "ollama_chat": OllamaProvider("ollama_chat"),
})
# LiteLLM spellings that mean an existing provider.
ALIASES = {"custom_openai": "openai", "text-completion-openai": "openai", "together": "together_ai",
           "fireworks": "fireworks_ai", "vllm": "hosted_vllm", "grok": "xai",
           "cohere_chat": "cohere"}
_ANTHROPIC_BARE = re.compile(r"^claude-")
_OPENAI_BARE = re.compile(
    r"^(gpt-|o1|o3|o4|chatgpt-|text-embedding-|davinci|babbage|ft:|text-moderation|omni-moderation"
    r"|codex-)")


def resolve_model(model):
    """Split a deployment model string into (provider name, upstream model id)."""
    prefix, sep, rest = model.partition("/")
    if sep:
        name = ALIASES.get(prefix, prefix)
        if name in REGISTRY and rest:
            return name, rest
    if _OPENAI_BARE.match(model):
        return "openai", model
    if _ANTHROPIC_BARE.match(model):
        return "anthropic", model
    if sep:
        raise ValueError(f"unknown provider {prefix!r} in {model!r}; known providers: "
                         + ", ".join(sorted(REGISTRY)))
    raise ValueError(f"cannot tell the provider of {model!r}; write it as <provider>/{model} "
                     "(e.g. openai/" + model + ")")


def get_provider(name):
    """The provider registered under name."""
    return REGISTRY[name]
