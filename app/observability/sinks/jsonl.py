"""``jsonl``: append one JSON line per event to a file, rotated by size.

Config: ``general_settings.jsonl: {path, max_mb: 100, backups: 5}`` (or just the path). Several
gunicorn workers share the file: each batch is one ``O_APPEND`` write, and rotation
(``file`` -> ``file.1`` -> ... -> ``file.<backups>``) happens under an flock on ``file.lock``; a
worker notices that the file was rotated (another inode) and reopens it.
"""
import fcntl
import os

import orjson

from app.observability.sinks.base import log, section


class JsonlSink:
    """Appends events to a size-rotated JSON-lines file."""

    name = "jsonl"

    def __init__(self, path, max_bytes=100 * 1024 * 1024, backups=5):
        self.path = os.path.abspath(path)
        self.max_bytes = max_bytes
        self.backups = max(0, int(backups))
        self.fd = None

    def send(self, events):
        """Append the batch as one write, rotating first if the file would grow too big."""
        data = b"".join(orjson.dumps(e, default=str) + b"\n" for e in events)
        fd = self._current()
        if self.max_bytes and os.fstat(fd).st_size + len(data) > self.max_bytes \
                and os.fstat(fd).st_size > 0:
            self._rotate()
            fd = self._current()
        os.write(fd, data)

    def _current(self):
        try:
            same = self.fd is not None and os.path.samestat(os.fstat(self.fd), os.stat(self.path))
        except FileNotFoundError:
            same = False
        if not same:
            self._close_fd()
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        return self.fd

    def _rotate(self):
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:  # another worker may have rotated while we waited
                if os.stat(self.path).st_size <= 0 or not os.path.samestat(
                        os.fstat(self.fd), os.stat(self.path)):
                    return
            except FileNotFoundError:
                return
            if self.backups == 0:
                os.truncate(self.path, 0)
                return
            for index in range(self.backups - 1, 0, -1):
                older = f"{self.path}.{index}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{index + 1}")
            os.replace(self.path, self.path + ".1")

    def _close_fd(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self):
        """Close the file."""
        self._close_fd()


def from_settings(settings, session):
    """The sink from general_settings.jsonl."""
    conf = (settings.general_settings or {}).get("jsonl")
    conf = {"path": conf} if isinstance(conf, str) else section(settings, "jsonl")
    if not conf.get("path"):
        log.error("callback jsonl: set general_settings.jsonl.path; jsonl events are off")
        return None
    max_bytes = int(float(conf.get("max_mb", 100)) * 1024 * 1024)
    return JsonlSink(conf["path"], max_bytes, conf.get("backups", 5))
