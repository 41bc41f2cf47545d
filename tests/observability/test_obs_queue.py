"""The per-sink delivery queue: batching, overflow, retries, slow sinks, bounded shutdown."""
import threading
import time

import pytest

from app.observability.metrics import Metrics
from app.observability.queue import Delivery
from app.observability.sinks.base import PermanentError


class Recorder:
    """A sink that records batches; can fail a number of times, or be slow."""

    name = "recorder"

    def __init__(self, failures=0, delay=0.0, error=ConnectionError):
        self.batches, self.failures, self.delay, self.error = [], failures, delay, error
        self.attempts = 0
        self.closed = False

    def send(self, batch):
        self.attempts += 1
        if self.delay:
            time.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise self.error("sink down")
        self.batches.append(list(batch))

    def close(self):
        self.closed = True

    def events(self):
        return [e for b in self.batches for e in b]


@pytest.fixture
def metrics():
    return Metrics()


def test_events_are_delivered_in_batches(metrics):
    sink = Recorder()
    delivery = Delivery(sink, metrics, batch_size=10, interval=0.05)
    for i in range(25):
        delivery.put(i)
    delivery.close(5)
    assert sink.events() == list(range(25))
    assert max(len(b) for b in sink.batches) <= 10
    assert delivery.delivered == 25 and sink.closed
    assert metrics.delivered.labels("recorder")._value.get() == 25


def test_a_full_queue_drops_the_oldest_and_counts(metrics):
    sink = Recorder()
    delivery = Delivery(sink, metrics, max_size=5, batch_size=100, interval=60)
    delivery._start = lambda: None  # no drain: fill the queue
    for i in range(12):
        delivery.put(i)
    assert list(delivery.events) == [7, 8, 9, 10, 11]
    assert delivery.dropped == 7
    assert metrics.dropped.labels("recorder", "overflow")._value.get() == 7
    delivery.close(5)
    assert sink.events() == [7, 8, 9, 10, 11]


def test_failures_are_retried_with_backoff_then_delivered(metrics):
    sink = Recorder(failures=2)
    delivery = Delivery(sink, metrics, interval=0.01, retries=3, backoff=0.02)
    started = time.monotonic()
    delivery.put("e")
    deadline = time.monotonic() + 5
    while not sink.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.events() == ["e"] and sink.attempts == 3
    assert time.monotonic() - started >= 0.02 + 0.04  # backoff 0.02, then 0.04
    delivery.close(5)


def test_a_dead_sink_loses_the_batch_after_the_retries_and_counts_it(metrics):
    sink = Recorder(failures=100)
    delivery = Delivery(sink, metrics, interval=0.01, retries=2, backoff=0.01)
    delivery.put("a")
    delivery.put("b")
    deadline = time.monotonic() + 5
    while delivery.failed < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert delivery.failed == 2 and sink.attempts == 3
    assert metrics.dropped.labels("recorder", "failed")._value.get() == 2
    delivery.close(5)


def test_a_permanent_error_is_not_retried(metrics):
    sink = Recorder(failures=5, error=PermanentError)
    delivery = Delivery(sink, metrics, interval=0.01, retries=3, backoff=0.01)
    delivery.put("a")
    delivery.close(5)
    assert sink.attempts == 1 and delivery.failed == 1


def test_put_never_waits_for_a_slow_sink(metrics):
    sink = Recorder(delay=0.5)
    delivery = Delivery(sink, metrics, batch_size=1, interval=0.01)
    started = time.perf_counter()
    for i in range(200):
        delivery.put(i)
    assert time.perf_counter() - started < 0.05
    delivery.close(0.2)


def test_close_waits_at_most_the_timeout_for_a_hanging_sink(metrics):
    release = threading.Event()

    class Hanging(Recorder):
        def send(self, batch):
            release.wait(10)

    delivery = Delivery(Hanging(), metrics, interval=0.01)
    delivery.put("x")
    time.sleep(0.05)
    started = time.monotonic()
    delivery.close(0.3)
    assert time.monotonic() - started < 1.0
    release.set()
    delivery._thread.join(5)


def test_close_flushes_events_queued_before_the_thread_started(metrics):
    sink = Recorder()
    delivery = Delivery(sink, metrics, interval=60)
    delivery._start = lambda: None
    delivery.put("late")
    delivery.close(5)
    assert sink.events() == ["late"]
