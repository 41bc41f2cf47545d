"""The request body of POST /v1/completions (OpenAI's legacy text completions)."""
from app.schema_fields import Bool, Int, Str, validate
from app.schema_params import GenerationParams, TextOrTokens


class CompletionsRequest(GenerationParams):
    # OpenAI requires the key; null means "from the start of a new document".
    prompt = TextOrTokens(required=True, allow_none=True)
    suffix = Str(allow_none=True)
    max_tokens = Int(minimum=0, allow_none=True)
    logprobs = Int(minimum=0, maximum=5, allow_none=True)
    echo = Bool(allow_none=True)
    best_of = Int(minimum=0, maximum=20, allow_none=True)


COMPLETIONS_REQUEST = CompletionsRequest()


def validate_completions(body):
    """Raise InvalidRequestError (param = JSON path) for the first problem in a completions body."""
    validate(COMPLETIONS_REQUEST, body)
