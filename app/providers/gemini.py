"""Google AI Studio (Gemini API) provider (not implemented yet: a placeholder so the registry names it)."""
from app.providers.base import Provider


class GeminiProvider(Provider):
    """Google AI Studio (Gemini API)."""

    def __init__(self, name="gemini"):
        self.name = name
