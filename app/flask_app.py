"""The Flask class the app factory builds."""
from flask import Flask


class SyncFlask(Flask):
    """Flask whose views and hooks are all plain functions (gevent, not asyncio).

    Flask asks ``inspect.iscoroutinefunction`` of every hook and view on every request
    (``ensure_sync``); nothing here is a coroutine, so they are called as they are.
    """

    def ensure_sync(self, func):
        """``func`` itself: no coroutine check per call."""
        return func
