"""enable_pre_call_checks: a cheap prompt-size estimate and the deployments' context windows.

The estimate is the common rule of thumb for BPE tokenizers (about 4 bytes of UTF-8 text per
token, plus 4 tokens of framing per message); no tokenizer is loaded. It errs on the small
side for English and large for CJK text, so a borderline prompt may still reach a deployment
and get its context_length_exceeded (which then uses context_window_fallbacks).
"""
BYTES_PER_TOKEN = 4
PER_MESSAGE = 4


def prompt_tokens(body):
    """Estimated prompt tokens of a chat or completions body."""
    total = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            total += PER_MESSAGE + _text_bytes(message) // BYTES_PER_TOKEN
    prompt = body.get("prompt")
    if prompt is not None:
        total += _text_bytes(prompt) // BYTES_PER_TOKEN
    return total


def _text_bytes(value):
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    if isinstance(value, dict):
        return sum(_text_bytes(v) for k, v in value.items() if k not in ("role", "type"))
    if isinstance(value, list):
        return sum(_text_bytes(v) for v in value)
    return 0


def context_window(dep):
    """The deployment's input limit (model_info.max_input_tokens, else max_tokens), or None."""
    info = dep.model_info or {}
    for key in ("max_input_tokens", "max_tokens"):
        value = info.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def fits(dep, tokens):
    """Can ``dep`` take a prompt of ``tokens``? (Unknown window: yes.)"""
    window = context_window(dep)
    return window is None or tokens <= window
