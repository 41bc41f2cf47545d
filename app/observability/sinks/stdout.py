"""``stdout``: one JSON line per event on standard output (one write per batch)."""
import os
import sys

import orjson


class StdoutSink:
    """Writes events as JSON lines to a file descriptor (stdout by default)."""

    name = "stdout"

    def __init__(self, fd=None):
        self.fd = sys.stdout.fileno() if fd is None else fd

    def send(self, events):
        """Write the batch."""
        os.write(self.fd, b"".join(orjson.dumps({"callback_event": e}, default=str) + b"\n"
                                   for e in events))

    def close(self):
        """Standard output is not ours to close."""


def from_settings(settings, session):
    """The stdout sink (no settings)."""
    return StdoutSink()
