"""Azure OpenAI provider (not implemented yet: a placeholder so the registry names it)."""
from app.providers.base import Provider


class AzureProvider(Provider):
    """Azure OpenAI."""

    def __init__(self, name="azure"):
        self.name = name
