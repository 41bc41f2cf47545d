"""OpenAI's Responses API (/v1/responses) in front of every provider.

OpenAI and Azure deployments get the Responses API itself (``native.py``); every other provider
is reached through the internal chat form (``to_chat.py`` in, ``from_chat.py`` and ``events.py``
out) and the shared pipeline of ``app/gateway.py``. Stored responses live in the gateway's
database (``app/store/responses.py``) so ``previous_response_id`` works on any provider.
"""
