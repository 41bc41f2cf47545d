"""AWS Bedrock Converse provider (not implemented yet: a placeholder so the registry names it)."""
from app.providers.base import Provider


class BedrockProvider(Provider):
    """AWS Bedrock Converse."""

    def __init__(self, name="bedrock"):
        self.name = name
