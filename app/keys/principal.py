"""Who is calling: the master key or a virtual key with its team and user, and their limits.

Key rows are read from the database on a key's first use and kept in process. Any change
(generate, update, block, delete, ...) bumps a version counter, in Redis for every instance
(polled every ``POLL`` seconds) and in a small memory-mapped file for the workers of this host
(read on every request, nanoseconds); a new version empties the cache. The instance that made
the change therefore sees it on its next request, the others within ``POLL``.
"""
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import time

from app.keys.durations import parse_ms, to_ms, window
from app.keys.limits import Entity

log = logging.getLogger("switchboard.keys")

POLL = 0.2
VERSION_KEY = "sb:keys:version"
VERSION_TTL = 30 * 86400
MAX_CACHED = 100_000
ALL_MODELS = frozenset({"*", "all-proxy-models"})


def hash_key(raw):
    """sha256 hex of a raw key (what the tables store)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Principal:
    """The caller of one request (``g.principal``)."""

    __slots__ = ("is_admin", "token", "key_alias", "team_id", "user_id", "models", "key",
                 "team", "user", "entities", "limited", "expires_ms", "blocked")

    def __init__(self, is_admin=False, token=None, key=None, team=None, user=None,
                 models=None, entities=(), expires_ms=None, blocked=False):
        self.is_admin, self.token = is_admin, token
        self.key, self.team, self.user = key, team, user
        self.key_alias = key.get("key_alias") if key else None
        self.team_id = key.get("team_id") if key else None
        self.user_id = key.get("user_id") if key else None
        self.models = models  # frozenset of allowed public names, or None for all
        self.entities = tuple(entities)
        self.limited = tuple(e for e in entities if (e.rpm, e.tpm, e.parallel, e.budget)
                             != (None, None, None, None))
        self.expires_ms, self.blocked = expires_ms, blocked


MASTER = Principal(is_admin=True)


def entity_of(kind, ident, row):
    """The limits of a key, team or user row, with its spend as the seed of its window."""
    duration = parse_ms(row["budget_duration"]) if row.get("budget_duration") else None
    anchor = to_ms(row["created_at"])
    seed_window = 0
    reset = row.get("budget_reset_at")
    if duration and reset is not None:
        seed_window = (to_ms(reset) - anchor) // duration - 1
    elif duration:
        seed_window = -1
    return Entity(kind, ident, row.get("rpm_limit"), row.get("tpm_limit"),
                  row.get("max_parallel_requests"), row.get("max_budget"), duration, anchor,
                  float(row.get("spend") or 0.0), seed_window)


def reset_at_ms(entity, now_ms):
    """End of the entity's current window in epoch ms, or None."""
    return window(entity.anchor_ms, entity.duration_ms, now_ms)[1]


def allowed_models(lists, groups):
    """The intersection of every non-empty model list (access groups expanded); None = all."""
    allowed = None
    for models in lists:
        if not models or ALL_MODELS & set(models):
            continue
        names = set()
        for name in models:
            names.update(groups.get(name, (name,)))
        allowed = names if allowed is None else allowed & names
    return None if allowed is None else frozenset(allowed)


def build(key, team, user, groups):
    """A Principal from a key row and its team and user rows (either may be None)."""
    entities = [entity_of("key", key["token"], key)]
    if team is not None:
        entities.append(entity_of("team", team["team_id"], team))
    if user is not None:
        entities.append(entity_of("user", user["user_id"], user))
    models = allowed_models([key.get("models"), team and team.get("models"),
                             user and user.get("models")], groups)
    expires = to_ms(key["expires"]) if key.get("expires") else None
    blocked = bool(key.get("blocked")) or bool(team and team.get("blocked"))
    return Principal(token=key["token"], key=key, team=team, user=user, models=models,
                     entities=entities, expires_ms=expires, blocked=blocked)


class LocalVersion:
    """A counter in a memory-mapped file shared by the workers of this host."""

    def __init__(self, path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self.map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        self.path = path

    def read(self):
        """The current version."""
        return struct.unpack_from("Q", self.map)[0]

    def bump(self):
        """Add one (under a file lock: several workers may bump at once)."""
        with open(self.path, "rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                struct.pack_into("Q", self.map, 0, self.read() + 1)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


class KeyCache:
    """token hash -> Principal (or None for an unknown key), emptied on every version change."""

    def __init__(self, load, local_version, kv=None):
        self.load = load
        self.local = local_version
        self.kv = kv
        self.remote = None
        self.entries = {}
        self.seen = None
        self._poller = None
        self._stop = False

    def get(self, token):
        """The principal of a key hash (loading it on first use), or None."""
        version = (self.local.read(), self.remote)
        if version != self.seen:
            self.entries = {}
            self.seen = version
        try:
            return self.entries[token]
        except KeyError:
            pass
        if self.kv is not None and self._poller is None:
            self._start()
        principal = self.load(token)
        if len(self.entries) >= MAX_CACHED:
            self.entries = {}
        self.entries[token] = principal
        return principal

    def changed(self):
        """A key, team or user changed here: tell this host and every instance."""
        self.local.bump()
        self.entries = {}
        if self.kv is not None:
            def bump(r):
                pipe = r.pipeline()
                pipe.incr(VERSION_KEY)
                pipe.expire(VERSION_KEY, VERSION_TTL)
                return pipe.execute()[0]
            value = self.kv.run(bump, fallback=None)
            if value is not None:
                self.remote = int(value)

    def _start(self):
        self._poller = threading.Thread(target=self._poll, name="keys-version", daemon=True)
        self._poller.start()

    def _poll(self):
        while not self._stop:
            value = self.kv.run(lambda r: r.get(VERSION_KEY), fallback=False)
            if value is not False:
                self.remote = None if value is None else int(value)
            time.sleep(POLL)

    def close(self):
        """Stop polling."""
        self._stop = True
