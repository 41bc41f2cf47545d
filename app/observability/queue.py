"""Per-sink delivery: a bounded in-memory queue drained by a background thread, in batches.

Under gunicorn's gevent worker ``threading`` is patched, so the drain "thread" is a greenlet and
its HTTP calls yield to request handling. The request path only appends to a deque (no lock, no
I/O). A full queue drops its oldest event and counts it; a failing batch is retried with
exponential backoff and then dropped (counted as ``failed``). ``close(timeout)`` delivers what is
left, waiting at most ``timeout`` seconds (graceful shutdown).
"""
import collections
import logging
import threading
import time

from app.observability.sinks.base import PermanentError

log = logging.getLogger("switchboard.callbacks")


class Delivery:
    """Queue + drain loop for one sink."""

    def __init__(self, sink, metrics=None, max_size=10000, batch_size=100, interval=1.0,
                 retries=3, backoff=0.5):
        self.sink = sink
        self.metrics = metrics
        self.max_size = max_size
        self.batch_size = batch_size
        self.interval = interval
        self.retries = retries
        self.backoff = backoff
        self.events = collections.deque()
        self.dropped = self.failed = self.delivered = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._abandoned = False
        self._start_lock = threading.Lock()
        self._warned = 0.0

    def put(self, event):
        """Queue one event (never blocks; drops the oldest event when full)."""
        events = self.events
        if len(events) >= self.max_size:
            try:
                events.popleft()
            except IndexError:  # the drain took it meanwhile
                pass
            else:
                self._count_drop("overflow", 1)
        events.append(event)
        if self._thread is None:
            self._start()
        if len(events) >= self.batch_size:
            self._wake.set()

    def _start(self):
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"switchboard-{self.sink.name}")
                self._thread.start()

    def _run(self):
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            stopping = self._stop.is_set()
            self.drain()
            if stopping:
                return

    def drain(self):
        """Deliver everything queued now, batch by batch."""
        while self.events and not self._abandoned:
            batch = self._take()
            if self.metrics is not None:
                self.metrics.queue_depth.labels(self.sink.name).set(len(self.events))
            self._deliver(batch)
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.sink.name).set(len(self.events))

    def _take(self):
        batch, events = [], self.events
        while events and len(batch) < self.batch_size:
            try:
                batch.append(events.popleft())
            except IndexError:
                break
        return batch

    def _deliver(self, batch):
        size = len(batch)
        for attempt in range(self.retries + 1):
            try:
                self.sink.send(batch)  # a sink may consume the list as it delivers
            except Exception as exc:  # noqa: BLE001 - a sink failure must never escape
                # Give up on a permanent error, after the last retry, or when shutting down.
                if isinstance(exc, PermanentError) or attempt == self.retries \
                        or self._stop.wait(self.backoff * 2 ** attempt):
                    self._warn(exc)
                    break
                continue
            self.delivered += size
            if self.metrics is not None:
                self.metrics.delivered.labels(self.sink.name).inc(size)
            return
        self._count_drop("failed", len(batch) or size)

    def _count_drop(self, reason, count):
        if reason == "overflow":
            self.dropped += count
        else:
            self.failed += count
        if self.metrics is not None:
            self.metrics.dropped.labels(self.sink.name, reason).inc(count)

    def _warn(self, exc):
        now = time.monotonic()
        if now - self._warned > 60:  # at most one line a minute per sink
            self._warned = now
            log.warning("callback %s: delivery failed, events dropped: %s", self.sink.name,
                        _describe(exc))

    def close(self, timeout=5.0):
        """Stop the loop after delivering what is queued; wait at most ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        elif self.events:
            self._thread = threading.Thread(target=self.drain, daemon=True)
            self._thread.start()
            self._thread.join(timeout)
        if self._thread is not None and self._thread.is_alive():
            self._abandoned = True  # out of time: what is still queued is lost
            self._count_drop("failed", len(self.events))
        self.sink.close()


def _describe(exc):
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
