"""Ollama provider (not implemented yet: a placeholder so the registry names it)."""
from app.providers.base import Provider


class OllamaProvider(Provider):
    """Ollama."""

    def __init__(self, name="ollama"):
        self.name = name
