"""Messages handled by several threads at once, each publisher's in the order it sent them.

A store whose database answers over the network spends most of an order waiting for the commit;
with N threads, N orders wait together (and PostgreSQL commits them in one disk flush). A
message goes to the thread its topic's parent picks (`reorder/v1/devices/kitchen-01`): one
device's orders and cancels are handled one after another, in order, as MQTT delivered them.
A message is acknowledged by its thread once handled, and not at all when the handler says no.

Each message carries the connection it came on, and is acknowledged only on that one: after a
reconnect the broker resends what it had not acknowledged (a persistent session; the resend is
answered `duplicate`), and a late PUBACK on the new connection could acknowledge whatever message
the broker has since given that packet id. It is still handled, so a clean session, whose
messages the broker does not resend, loses nothing either.
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections.abc import Callable

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], bool]
Ack = Callable[[int, int], object]
Current = Callable[[int], bool]
"""Whether a connection number is still the live connection."""
_STOP = object()


class Workers:
    """`count` threads handling (topic, payload) and acknowledging (mid, qos) what they handled."""

    def __init__(self, count: int, handle: Handler, ack: Ack, current: Current, name: str = "store") -> None:
        self._handle, self._ack, self._current = handle, ack, current
        self._closing = threading.Event()
        self._queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(count)]
        self._threads = [threading.Thread(target=self._run, args=(q,), name=f"{name}-worker-{n}", daemon=True)
                         for n, q in enumerate(self._queues)]
        for thread in self._threads:
            thread.start()

    def __repr__(self) -> str:
        return f"<Workers {len(self._threads)} threads{', closing' if self._closing.is_set() else ''}>"

    def put(self, topic: str, payload: bytes, mid: int, qos: int, connection: int) -> None:
        """Queue one message for the thread of its publisher (dropped, unacknowledged, once closing)."""
        if self._closing.is_set():
            return
        key = zlib.crc32(topic.rsplit("/", 1)[0].encode("utf-8"))
        self._queues[key % len(self._queues)].put((topic, payload, mid, qos, connection))

    def close(self, timeout: float = 15.0) -> None:
        """Finish the messages being handled, drop the queued ones (unacknowledged: the broker keeps them)."""
        self._closing.set()
        for q in self._queues:
            q.put(_STOP)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _run(self, inbox: queue.SimpleQueue) -> None:
        while True:
            item = inbox.get()
            if item is _STOP:
                return
            if self._closing.is_set():
                continue
            topic, payload, mid, qos, connection = item
            try:
                handled = self._handle(topic, payload)
            except Exception:  # the handler logs its own failures; this is a bug in it
                log.exception("handling the message on %s failed; not acknowledged", topic)
                continue
            if handled and self._current(connection):
                self._ack(mid, qos)
