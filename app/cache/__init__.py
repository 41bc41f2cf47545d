"""Response caching (issue 11): exact-match answers in process or in Redis, LiteLLM's config.

    config.py      litellm_settings.cache / cache_params (checked when the config loads)
    controls.py    per-request controls: the body's ``cache`` object, ``Cache-Control``
    keys.py        canonical keys (what changes the answer is in, plumbing is out)
    backends.py    LocalStore (bounded LRU) and RedisStore (through app.kv, breaker included)
    answers.py     what may be stored, streams folded into completions and replayed
    embeddings.py  per-item embeddings: ask only for what is missing, reassemble in order
    stage.py       the pipeline stage app/gateway.py calls (begin, lookup, keep, add_headers)

This module imports nothing: app.config_schema imports app.cache.config in gunicorn's arbiter.
"""
