"""Bedrock embeddings: the Titan and Cohere InvokeModel bodies and answers (pure functions).

Titan embeds one text per call, Cohere up to 96; ``BedrockProvider.complete`` makes one call
per batch.
"""
from app import errors
from app.providers import bedrock_convert as convert
from app.providers import common

COHERE_BATCH = 96  # Cohere Embed on Bedrock takes at most 96 texts per call


def embedding_family(model_id):
    """"titan" or "cohere" for an embedding model id (ARNs and profiles included)."""
    if "titan-embed" in model_id:
        return "titan"
    if "cohere.embed" in model_id:
        return "cohere"
    raise errors.InvalidRequestError(
        f"Bedrock embeddings support amazon.titan-embed-* and cohere.embed-* models, "
        f"not {model_id!r}", param="model")


def embedding_inputs(body):
    """The input strings of an embeddings request (token arrays are refused)."""
    inputs = body["input"]
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not all(isinstance(i, str) for i in inputs):
        raise errors.InvalidRequestError(
            "Bedrock embeddings take text input, not token arrays", param="input")
    return inputs


def embedding_batches(family, inputs):
    """Titan embeds one text per call; Cohere up to 96."""
    size = 1 if family == "titan" else COHERE_BATCH
    return [inputs[i:i + size] for i in range(0, len(inputs), size)]


def embedding_request(call, family, model_id, defaults):
    """The InvokeModel body for one batch (``call.body["input"]`` is the batch)."""
    body = {**defaults, **call.body}
    texts, dims = body["input"], body.get("dimensions")
    if family == "titan":
        return _titan_request(call, body, texts[0], dims, model_id)
    req = {"texts": texts, "input_type": body.get("input_type") or "search_document",
           "embedding_types": ["float"]}
    if body.get("truncate"):
        req["truncate"] = body["truncate"]
    if dims is not None:
        if "embed-v4" not in model_id:
            common.unsupported(call, body, "dimensions", convert.PROVIDER)
        else:
            req["output_dimension"] = dims
    return req


def _titan_request(call, body, text, dims, model_id):
    req = {"inputText": text}
    if "titan-embed-text-v2" in model_id:
        if dims is not None:
            req["dimensions"] = dims
        req["normalize"] = body.get("normalize", True)
    elif "titan-embed-image" in model_id:
        if dims is not None:
            req["embeddingConfig"] = {"outputEmbeddingLength": dims}
    elif dims is not None:  # Titan text v1 takes nothing but the text
        common.unsupported(call, body, "dimensions", convert.PROVIDER)
    return req


def embeddings_of(family, data, count):
    """(vectors, token count or None) from a Titan or Cohere InvokeModel response."""
    if family == "titan":
        vectors = [data.get("embedding")]
        tokens = data.get("inputTextTokenCount")
    else:
        found = data.get("embeddings")
        vectors = found.get("float") if isinstance(found, dict) else found
        tokens = None
    if not isinstance(vectors, list) or len(vectors) != count \
            or not all(isinstance(v, list) for v in vectors):
        raise errors.BadGatewayError("Bedrock answered without the expected embeddings")
    return vectors, tokens
