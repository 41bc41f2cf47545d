"""Spend rows: built on the request path (a dict), written to the database in batches.

The queue is the observability ``Delivery`` (bounded deque, background drain, flushed on
shutdown). While the database is down a batch goes back to the head of the queue and is retried
every flush interval: the rows wait in bounded memory (``switchboard_callback_queue_depth
{sink="spend_logs"}``, one log line when it starts and one when it ends) instead of being lost.
"""
import datetime as dt
import logging
import re
import time

from app.observability.queue import Delivery
from app.store import spend as spend_store

log = logging.getLogger("switchboard.keys")

UTC = dt.timezone.utc
_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,128})"')


def completion_id(data):
    """The ``id`` of a response body (bytes or dict) as the client receives it, or None."""
    if isinstance(data, dict):
        value = data.get("id")
        return value if isinstance(value, str) else None
    if isinstance(data, (bytes, bytearray)):
        match = _ID.search(data[:4096])
        return match.group(1).decode() if match else None
    return None


class IdTap:
    """Wraps an upstream stream to note the id of its first chunk (for the spend row)."""

    __slots__ = ("stream", "id")

    def __init__(self, stream):
        self.stream, self.id = stream, None

    def __iter__(self):
        events = iter(self.stream)
        for payload in events:  # the first event with an id has it; the rest pass on
            self.id = completion_id(payload)
            yield payload
            if self.id is not None:
                yield from events

    def close(self):
        """Release the upstream."""
        self.stream.close()


class SpendSink:
    """Writes a batch of (row, charges) to the database in one transaction."""

    name = "spend_logs"

    def __init__(self, store):
        self.store = store
        self.down_since = None

    def send(self, batch):
        """Insert the rows and add their spend to keys, teams and users."""
        rows, charges = [], {}
        for row, row_charges in batch:
            rows.append(row)
            for target, usd in row_charges:
                charges[target] = charges.get(target, 0.0) + usd
        self.store.ensure_schema()
        spend_store.write_batch(self.store.engine, rows, charges)

    def close(self):
        """Nothing to release (the engine belongs to the store)."""


class SpendDelivery(Delivery):
    """A Delivery that keeps a failed batch queued (in order) until the database is back."""

    def drain(self):
        """Write everything queued now; on failure keep it and try again next interval."""
        while self.events and not self._abandoned:
            batch = self._take()
            try:
                self.sink.send(batch)
            except Exception as exc:  # noqa: BLE001 - the database may be down for a while
                room = self.max_size - len(self.events)
                keep = batch[-room:] if room < len(batch) else batch
                self.events.extendleft(reversed(keep))
                if len(keep) < len(batch):
                    self._count_drop("overflow", len(batch) - len(keep))
                self._depth()
                self._down(exc)
                return
            self.delivered += len(batch)
            if self.metrics is not None:
                self.metrics.delivered.labels(self.sink.name).inc(len(batch))
            self._up()
            # SQLite writes hold the gevent hub: let the requests waiting behind this batch run
            # before the next one (small batches + a yield keep the p99 of the API path low).
            time.sleep(0)
        self._depth()

    def _depth(self):
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.sink.name).set(len(self.events))

    def _down(self, exc):
        if self.sink.down_since is None:
            self.sink.down_since = time.monotonic()
            log.warning("database unavailable (%s); spend rows are buffered in memory "
                        "(%d queued, at most %d) until it is back", type(exc).__name__,
                        len(self.events), self.max_size)

    def _up(self):
        if self.sink.down_since is not None:
            log.warning("database is back after %.1f s; buffered spend rows written",
                        time.monotonic() - self.sink.down_since)
            self.sink.down_since = None


def when(epoch):
    """An aware UTC datetime from epoch seconds."""
    return dt.datetime.fromtimestamp(epoch, UTC)
