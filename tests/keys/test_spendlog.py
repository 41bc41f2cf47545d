"""Spend rows: batched, kept in bounded memory while the database is down, written when back."""
import logging

from app.keys.spendlog import IdTap, SpendDelivery, completion_id
from app.observability.metrics import Metrics


class FlakySink:
    name = "spend_logs"

    def __init__(self):
        self.down = True
        self.written = []
        self.down_since = None

    def send(self, batch):
        if self.down:
            raise ConnectionError("database down")
        self.written.extend(batch)

    def close(self):
        pass


def test_rows_wait_while_the_database_is_down_and_are_written_in_order(caplog):
    sink, metrics = FlakySink(), Metrics()
    queue = SpendDelivery(sink, metrics, max_size=5, batch_size=2, interval=0.01)
    with caplog.at_level(logging.WARNING, "switchboard.keys"):
        for i in range(4):
            queue.events.append(i)
        queue.drain()
        assert list(queue.events) == [0, 1, 2, 3] and sink.written == []
        assert metrics.queue_depth.labels("spend_logs")._value.get() == 4
        for i in range(4, 7):
            queue.put(i)  # bounded: the oldest goes first when full
        queue.close(0.0)  # stop the drain thread started by put
        sink.down = False
        queue._abandoned = False
        queue.drain()
    assert sink.written == [2, 3, 4, 5, 6]
    assert queue.dropped == 2
    text = caplog.text
    assert "buffered" in text and "is back" in text


def test_completion_ids():
    assert completion_id({"id": "chatcmpl-1"}) == "chatcmpl-1"
    assert completion_id(b'{"object":"x","id":"chatcmpl-2","choices":[]}') == "chatcmpl-2"
    assert completion_id(None) is None
    tap = IdTap(iter([b'{"id":"c-3","choices":[]}', b'{"id":"c-3"}']))
    assert len(list(tap)) == 2 and tap.id == "c-3"
