"""The request body of POST /v1/embeddings, as OpenAI documents it."""
from app.schema_fields import Int, ObjectSchema, Str, validate
from app.schema_params import TextOrTokens


class EmbeddingsRequest(ObjectSchema):
    model = Str(required=True, non_empty=True)
    # OpenAI refuses empty strings and arrays of more than 2048 inputs.
    input = TextOrTokens(required=True, max_items=2048, non_empty_strings=True)
    encoding_format = Str(choices=("float", "base64"))
    dimensions = Int(minimum=1)
    user = Str()


EMBEDDINGS_REQUEST = EmbeddingsRequest()


def validate_embeddings(body):
    """Raise InvalidRequestError (param = JSON path) for the first problem in an embeddings body."""
    validate(EMBEDDINGS_REQUEST, body)
