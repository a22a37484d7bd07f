"""An order pump: the device's real delivery stack without speech, for fault tests and scripts/fault-cycle.

`Pump` is the device minus its ears: the real `Loop` (fed silence, with a deaf wake word and a
mute speaker), the real `Outbox`, `Delivery` and `MqttLink`, all driven from one thread exactly as
`reorder run` drives them. Orders are made with `build_order` from the sample catalogue and handed
to `Delivery.submit` (or to `Loop._confirm`, which is what a press does).

`Store` is the reference store backend with a stable client id (its session outlives broker
restarts) and a record of every answer it sent, so tests count what was applied once.

Run as a program it is a device process that a test can SIGKILL at any moment:

    python -m tests.delivery_harness --broker URL --outbox PATH [--count N] [--gap S]

prints `queued <order_id>` once an order is on disk, `published <order_id>` on its PUBACK and
`drained` when the outbox is empty (then exits 0; exit 3 when it is not empty after --timeout).
"""

from __future__ import annotations

import argparse
import queue
import random
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from device import config
from device.adapters.network.mqtt import MqttLink
from device.audio.source import SILENT_FRAME
from device.confirmation.session import Pending
from device.contract.catalogue import Catalogue
from device.contract.topics import Topics
from device.events import Event, Intent, IntentItem
from device.app import build_loop
from device.loop import Loop
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from device.orders.payload import build_order
from device.store import StoreBackend

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "device" / "samples" / "catalog.json"
DEVICE_ID = "pump-01"


# -- the parts of the device that listen and speak, replaced by silence --------------------------
class _Deaf:
    """A wake word that never fires."""

    def process(self, frame: bytes, t: float) -> None:
        return None

    def hold_off(self, t: float) -> None:
        pass


class _NoRecognizer:
    """A recogniser that is never asked (nobody speaks); keeps the grammar it is given."""

    catalogue = None
    grammar = None

    def set_grammar(self, grammar) -> list[str]:
        self.grammar = grammar
        return []

    def recognize(self, audio: bytes):  # pragma: no cover - the wake word never fires
        raise AssertionError("nobody speaks to the pump")


class _Quiet:
    """LED and speaker that show and say nothing."""

    def show(self, light) -> None:
        pass

    def say(self, text: str, locale: str) -> float:
        return 0.0

    def cue(self, name: str) -> float:
        return 0.0

    def close(self) -> None:
        pass


def settings_for(broker_url: str, outbox: Path | str, device_id: str = DEVICE_ID, **sections: dict):
    """Device settings as `reorder run` would read them from a config file."""
    data: dict[str, dict] = {"device": {"id": device_id}, "mqtt": {"broker": broker_url},
                             "storage": {"outbox": str(outbox), "catalog": str(CATALOG),
                                         "outbox_capacity": 5000},
                             "confirmation": {"speak": False, "max_orders_per_day": 0}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config.from_mapping(data, "delivery harness")


def random_order(catalogue: Catalogue, device_id: str, rng: random.Random | None = None) -> dict[str, Any]:
    """A valid order of 1-3 catalogue lines, made as a press makes it."""
    rng = rng or random.Random()
    chosen = rng.sample(catalogue.items, rng.randint(1, 3))
    items = tuple(IntentItem(i.sku, rng.randint(1, min(3, i.max_quantity))) for i in chosen)
    return build_order(items, catalogue, device_id, "en-US", "button", datetime.now(timezone.utc))


class Pump:
    """The device's delivery stack and loop, in one thread of its own; every call is bounded."""

    def __init__(self, broker_url: str, outbox: Path | str, device_id: str = DEVICE_ID,
                 on_event: Callable[[Event], None] | None = None, **sections: dict) -> None:
        self.settings = settings_for(broker_url, outbox, device_id, **sections)
        self.outbox_path = Path(outbox)
        self.device_id = device_id
        self.catalogue = Catalogue.load(CATALOG)
        self.topics = Topics(self.settings.mqtt.topic_prefix, device_id)
        self.events: list[dict] = []
        self._on_event = on_event
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self.rng = random.Random()
        self.loop: Loop | None = None
        self.link: MqttLink | None = None
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True, name=f"pump-{device_id}")
        self._thread.start()
        ready.result(timeout=10)

    # -- the loop thread -------------------------------------------------------------------------
    def _build(self) -> None:
        outbox = Outbox(self.settings.storage.outbox_path(), self.settings.storage.outbox_capacity)
        inbox: queue.SimpleQueue = queue.SimpleQueue()

        def post(item: object) -> None:
            inbox.put(item)
            self._kick.set()

        offline = {"schema": "reorder.state/1", "online": False, "firmware": "0.0.0", "outbox_depth": 0,
                   "muted": False, "since": "1970-01-01T00:00:00Z"}
        self.link = MqttLink(self.settings.mqtt, self.device_id, post,
                             (self.topics.order_status, self.topics.catalog), will=(self.topics.state, offline),
                             topics=self.topics)
        quiet = _Quiet()
        self.loop = build_loop(self.settings, wake=_Deaf(), endpointer=None,  # type: ignore[arg-type]
                               recognizer=_NoRecognizer(), delivery=Delivery(outbox, self.link, self.topics),
                               light=quiet, speaker=quiet, emit=self._emit, catalogue=self.catalogue, inbox=inbox)
        self.link.start()

    def _emit(self, event: Event) -> None:
        line = event.to_dict()
        with self._cond:
            self.events.append(line)
            self._cond.notify_all()
        if self._on_event:
            self._on_event(event)

    def _run(self, ready: Future) -> None:
        try:
            self._build()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        assert self.loop is not None
        try:
            while not self._stop.is_set():
                self._kick.wait(0.01)
                self._kick.clear()
                while True:
                    try:
                        fn, done = self._commands.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        done.set_result(fn())
                    except BaseException as exc:
                        done.set_exception(exc)
                self.loop.step(SILENT_FRAME)
                with self._cond:
                    self._cond.notify_all()
        finally:
            assert self.link is not None
            self.link.stop(final=(self.topics.state, self.loop.state_payload(online=False)))
            self.loop.outbox.close()

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run fn on the loop thread (where the outbox lives) and return its result."""
        done: Future = Future()
        self._commands.put((fn, done))
        self._kick.set()
        return done.result(timeout=timeout)

    # -- what a test does ------------------------------------------------------------------------
    def submit(self, count: int = 1) -> list[str]:
        """Confirm `count` orders straight into Delivery.submit; their ids, each on disk when this returns."""
        def run() -> list[str]:
            assert self.loop is not None
            ids = []
            for _ in range(count):
                order = random_order(self.catalogue, self.device_id, self.rng)
                self.loop.delivery.submit(order)
                ids.append(order["order_id"])
            return ids
        return self.call(run, timeout=60)

    def press(self, *items: tuple[str, int]) -> str:
        """What a confirming press does to the order (orders.lifecycle places it, the session opens its undo
        window) for these (sku, quantity), without the read-back before it; the order id."""
        def run() -> str:
            assert self.loop is not None
            intent = Intent("reorder", tuple(IntentItem(sku, qty) for sku, qty in items))
            pending = Pending(intent.items, self.catalogue, None, 0.0, self.loop.t + 60, 1)  # type: ignore[arg-type]
            before = len(self.events)
            self.loop.session.place(self.loop.orders.place(pending, "button", self.loop.t), self.loop.t)
            queued = [e for e in self.events[before:] if e["event"] == "queued"]
            assert queued, f"no queued event after the press: {self.events[before:]}"
            return queued[0]["order_id"]
        return self.call(run)

    def depth(self) -> int:
        """Orders in the outbox not yet acknowledged by the broker."""
        return self.call(lambda: self.loop.outbox.depth())

    def in_flight(self) -> int:
        """Orders handed to paho and not yet acknowledged."""
        return self.call(lambda: self.loop.delivery.in_flight)

    @property
    def connected(self) -> bool:
        return bool(self.link and self.link.connected)

    def published(self) -> list[str]:
        """Order ids of `published` events, in order (one per PUBACK that marked an order sent)."""
        with self._cond:
            return [e["order_id"] for e in self.events if e["event"] == "published"]

    def statuses(self) -> dict[str, str]:
        """The last status event per order id."""
        with self._cond:
            return {e["order_id"]: e["status"] for e in self.events if e["event"] == "status"}

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() holds (checked after every loop turn); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))

    def wait_drained(self, timeout: float) -> bool:
        """Wait until every order was acknowledged by the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call(lambda: self.loop.outbox.depth() == 0 and self.loop.delivery.in_flight == 0):
                return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Stop the loop thread, say goodbye to the broker, close the outbox; idempotent."""
        self._stop.set()
        self._kick.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> Pump:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def outbox_rows(path: Path | str) -> dict[str, dict[str, Any]]:
    """Every order an outbox file holds (read through its own connection): id → sent_at, status, withdrawn."""
    if not Path(path).exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT order_id, sent_at, status, withdrawn FROM orders").fetchall()
    finally:
        db.close()
    return {r[0]: {"sent_at": r[1], "status": r[2], "withdrawn": bool(r[3])} for r in rows}


class Store:
    """The reference store backend (stable client id, persistent session) and a log of its answers."""

    def __init__(self, broker_url: str, db_path: Path | str, client_id: str = "store-faults") -> None:
        self.answers: list[tuple[str, str]] = []
        self._cond = threading.Condition()
        self.backend = StoreBackend(broker_url, db_path, catalogue=Catalogue.load(CATALOG), client_id=client_id,
                                    watch_state=False, on_order=self._on_order, connect_timeout=10)

    def _on_order(self, request: dict, answer: dict) -> None:
        with self._cond:
            self.answers.append((answer["order_id"], answer["status"]))
            self._cond.notify_all()

    def start(self) -> Store:
        self.backend.start()
        return self

    def stop(self) -> None:
        self.backend.stop()

    def applied(self) -> Counter:
        """How many times each order id was applied (answered accepted or rejected, not duplicate)."""
        with self._cond:
            return Counter(oid for oid, status in self.answers if status != "duplicate")

    def deliveries(self) -> Counter:
        """How many times each order id reached the store (re-sends included)."""
        with self._cond:
            return Counter(oid for oid, _ in self.answers)

    def wait_applied(self, order_ids, timeout: float) -> bool:
        """Wait until every one of these order ids was applied; False on timeout."""
        wanted = set(order_ids)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                seen = {oid for oid, status in self.answers if status != "duplicate"}
                if wanted <= seen:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))

    def in_book(self, order_ids) -> set[str]:
        """Which of these order ids the order book holds."""
        return {oid for oid in order_ids if self.backend.order(oid) is not None}


def tally(outbox_ids, store: Store) -> dict[str, int]:
    """lost: confirmed (on disk) but not in the order book; duplicated: applied more than once."""
    live = set(outbox_ids)
    applied = store.applied()
    return {"orders": len(live), "lost": len(live - store.in_book(live)),
            "duplicated": sum(1 for n in applied.values() if n > 1),
            "resent": sum(store.deliveries().values()) - len(applied),
            "unknown": len(set(applied) - live)}


# -- as a device process ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.delivery_harness", description=__doc__.split("\n")[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--device-id", default=DEVICE_ID)
    parser.add_argument("--count", type=int, default=0, help="orders to confirm (0: only deliver what is queued)")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between orders")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up draining after this long")
    a = parser.parse_args(argv)

    def say(line: str) -> None:
        # One write per line: print() writes the text and the newline apart, so a line printed from
        # the pump's thread could land inside one printed here ("queued <id>published <id>").
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def on_event(event: Event) -> None:
        if event.name == "published":
            say(f"published {event.order_id}")  # type: ignore[attr-defined]

    pump = Pump(a.broker, a.outbox, a.device_id, on_event=on_event)
    try:
        for _ in range(a.count):
            for order_id in pump.submit(1):
                say(f"queued {order_id}")
            if a.gap:
                time.sleep(a.gap)
        if pump.wait_drained(a.timeout):
            say("drained")
            return 0
        print(f"not drained: {pump.depth()} orders wait", file=sys.stderr, flush=True)
        return 3
    finally:
        pump.close()


if __name__ == "__main__":
    sys.exit(main())
