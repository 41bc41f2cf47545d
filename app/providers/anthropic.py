"""Anthropic Messages API provider (not implemented yet: a placeholder so the registry names it)."""
from app.providers.base import Provider


class AnthropicProvider(Provider):
    """Anthropic Messages API."""

    def __init__(self, name="anthropic"):
        self.name = name
