"""Cohere v2 provider (not implemented yet: a placeholder so the registry names it)."""
from app.providers.base import Provider


class CohereProvider(Provider):
    """Cohere v2."""

    def __init__(self, name="cohere"):
        self.name = name
