"""The reference store backend against a real Mosquitto and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.errors import BrokerError
from device.store import StoreBackend
from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "kitchen-01"
STATUS = f"reorder/v1/devices/{DEVICE}/order-status"


class Device:
    """A paho client publishing like a speaker (QoS 1, waiting for the broker's ack)."""

    def __init__(self, port: int, device_id: str = DEVICE) -> None:
        self.device_id = device_id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, leaf: str, payload: dict[str, Any] | bytes, device_id: str | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        topic = f"reorder/v1/devices/{device_id or self.device_id}/{leaf}"
        info = self.client.publish(topic, data, qos=1)
        info.wait_for_publish(5)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def order(*lines: tuple[str, int, float], total: float | None = None, currency: str = "EUR",
          device_id: str = DEVICE, order_id: str | None = None) -> dict[str, Any]:
    """A reorder.order/1 payload; total defaults to the right one."""
    items = [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines or [("MILK-1L", 2, 1.15)]]
    right = sum(Decimal(str(i["unit_price"])) * i["quantity"] for i in items)
    return {"schema": "reorder.order/1", "order_id": order_id or str(uuid.uuid4()), "device_id": device_id,
            "created_at": "2026-11-22T13:00:00Z", "locale": "en-US", "catalog_version": 1, "items": items,
            "total": float(right) if total is None else total, "currency": currency, "confirmed_by": "button"}


def cancel(order_id: str, device_id: str = DEVICE) -> dict[str, Any]:
    """A reorder.cancel/1 payload."""
    return {"schema": "reorder.cancel/1", "order_id": order_id, "device_id": device_id,
            "created_at": "2026-11-22T13:00:05Z"}


def answers(sub, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Exactly `count` order-status payloads (each valid against the schema)."""
    got = [payload for _, payload in sub.wait_for(count, timeout)]
    assert len(got) == count, got
    for payload in got:
        assert schemas.problem(payload, schemas.ORDER_STATUS) is None, payload
    return got


@pytest.fixture
def catalogue(catalog_path: Path) -> Catalogue:
    return Catalogue.load(catalog_path)


@pytest.fixture
def device(mosquitto):
    made = Device(mosquitto.port)
    yield made
    made.close()


class Clock:
    """A settable wall clock for the cancel window."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(mosquitto, tmp_path, catalogue, clock):
    seen: list[tuple[dict, dict]] = []
    store = StoreBackend(mosquitto.url, tmp_path / "store.db", catalogue=catalogue, clock=clock,
                         client_id="store-test", on_order=lambda o, a: seen.append((o, a))).start()
    store.seen = seen
    yield store
    store.stop()


def test_order_is_accepted_answered_and_recorded(backend, device, subscriber, mosquitto):
    status = subscriber(mosquitto.port, STATUS)
    sent = order(("MILK-1L", 2, 1.15), ("COFFEE-500G", 1, 6.49))
    device.send("orders", sent)
    [answer] = answers(status, 1)
    assert answer == {"schema": "reorder.order-status/1", "order_id": sent["order_id"], "status": "accepted"}
    row = backend.order(sent["order_id"])
    assert row["status"] == "accepted" and row["device_id"] == DEVICE
    assert json.loads(row["payload"])["total"] == 8.79
    assert backend.seen == [(sent, answer)]


def test_resent_order_is_answered_duplicate_and_applied_once(backend, device, subscriber, mosquitto):
    status = subscriber(mosquitto.port, STATUS)
    sent = order()
    for _ in range(3):
        device.send("orders", sent)
    first, *again = answers(status, 3)
    assert first["status"] == "accepted"
    assert again == [{"schema": "reorder.order-status/1", "order_id": sent["order_id"], "status": "duplicate",
                      "original_status": "accepted"}] * 2
    assert backend.counts() == {"accepted": 1}


@pytest.mark.parametrize("sent, reason", [
    (order(("CAVIAR-50G", 1, 99.0)), "not-in-catalog"),
    (order(("MILK-1L", 2, 1.05)), "price-mismatch"),
    (order(("MILK-1L", 13, 1.15)), "over-max-quantity"),
    (order(("MILK-1L", 8, 1.15), ("MILK-1L", 5, 1.15)), "over-max-quantity"),
    (order(("MILK-1L", 2, 1.15), total=2.31), "total-mismatch"),
    (order(("MILK-1L", 2, 1.15), total=2.304), "total-mismatch"),
    (order(("MILK-1L", 2, 1.15), currency="USD"), "currency-mismatch"),
])
def test_orders_that_break_the_catalogue_are_rejected_with_a_reason(backend, device, subscriber, mosquitto,
                                                                    sent, reason):
    status = subscriber(mosquitto.port, STATUS)
    device.send("orders", sent)
    device.send("orders", sent)
    rejected, again = answers(status, 2)
    assert (rejected["status"], rejected["reason"]) == ("rejected", reason)
    assert (again["status"], again["original_status"], again["reason"]) == ("duplicate", "rejected", reason)
    assert backend.counts() == {"rejected": 1}


def test_malformed_payloads_are_survived_and_answered_when_they_carry_an_order_id(backend, device, subscriber,
                                                                                 mosquitto):
    status = subscriber(mosquitto.port, STATUS)
    no_items = order(order_id="no-items")
    no_items["items"] = []
    other_device = order(order_id="other-device", device_id="hall-02")
    no_id = order()
    del no_id["order_id"]
    for payload in (b"not json", b"\xff\xfe\x00", b"[1, 2]", b"", json.dumps(no_id).encode(),
                    json.dumps(no_items).encode(), json.dumps(other_device).encode()):
        device.send("orders", payload)
    device.send("cancel", b"{}")
    good = order()
    device.send("orders", good)
    got = answers(status, 3)
    assert [(a["order_id"], a["status"], a.get("reason")) for a in got] == [
        ("no-items", "rejected", "invalid-order"),
        ("other-device", "rejected", "invalid-order"),
        (good["order_id"], "accepted", None),
    ]
    assert backend.counts() == {"accepted": 1}


def test_cancel_within_the_window_then_too_late_and_unknown(backend, device, subscriber, mosquitto, clock):
    status = subscriber(mosquitto.port, STATUS)
    kept, undone = order(), order()
    device.send("orders", kept)
    device.send("orders", undone)
    answers(status, 2)  # the clock moves only once the store has seen what came before
    clock.now += 60
    device.send("cancel", cancel(undone["order_id"]))
    device.send("cancel", cancel(undone["order_id"]))  # idempotent
    answers(status, 4)
    clock.now += 61
    device.send("cancel", cancel(kept["order_id"]))
    device.send("cancel", cancel("never-ordered"))
    got = answers(status, 6)
    assert [(a["order_id"], a["status"], a.get("reason")) for a in got[2:]] == [
        (undone["order_id"], "cancelled", None),
        (undone["order_id"], "cancelled", None),
        (kept["order_id"], "rejected", "too-late"),
        ("never-ordered", "rejected", "unknown-order"),
    ]
    assert backend.order(undone["order_id"])["status"] == "cancelled"
    assert backend.order(kept["order_id"])["status"] == "accepted"
    assert backend.counts() == {"accepted": 1, "cancelled": 1}


def test_a_cancel_that_overtakes_its_order_is_honoured(backend, device, subscriber, mosquitto):
    status = subscriber(mosquitto.port, STATUS)
    late = order()
    device.send("cancel", cancel(late["order_id"]))
    device.send("orders", late)
    first, second = answers(status, 2)
    assert (first["status"], first["reason"]) == ("rejected", "unknown-order")
    assert second["status"] == "cancelled"
    assert backend.counts() == {"cancelled": 1}


def test_cancelling_a_rejected_order_repeats_its_rejection(mosquitto, tmp_path, catalogue, device, subscriber):
    status = subscriber(mosquitto.port, STATUS)
    cancels: list[tuple[dict, dict]] = []
    with StoreBackend(mosquitto.url, tmp_path / "store.db", catalogue=catalogue,
                      on_cancel=lambda c, a: cancels.append((c, a))):
        refused = order(("MILK-1L", 2, 1.15), total=1.0)
        device.send("orders", refused)
        device.send("cancel", cancel(refused["order_id"]))
        got = answers(status, 2)
    assert [(a["status"], a["reason"]) for a in got] == [("rejected", "total-mismatch")] * 2
    assert cancels == [(cancel(refused["order_id"]), got[1])]


def test_a_device_cannot_cancel_another_devices_order(backend, device, subscriber, mosquitto):
    status = subscriber(mosquitto.port, STATUS, "reorder/v1/devices/hall-02/order-status")
    mine = order()
    device.send("orders", mine)
    device.send("cancel", cancel(mine["order_id"], device_id="hall-02"), device_id="hall-02")
    got = answers(status, 2)
    assert (got[1]["status"], got[1]["reason"]) == ("rejected", "unknown-order")
    assert backend.order(mine["order_id"])["status"] == "accepted"


def test_published_catalogue_is_retained_and_orders_are_checked_against_it(backend, device, subscriber,
                                                                          mosquitto, catalogue):
    own = Catalogue.from_payload({**catalogue.to_payload(), "version": 2, "currency": "EUR", "items": [
        {"sku": "MILK-1L", "names": {"en": ["milk"]}, "unit_price": 1.25, "max_quantity": 3}]})
    backend.publish_catalog(DEVICE, own)
    retained = subscriber(mosquitto.port, f"reorder/v1/devices/{DEVICE}/catalog").wait_for(1)
    assert retained == [(f"reorder/v1/devices/{DEVICE}/catalog", own.to_payload())]
    status = subscriber(mosquitto.port, STATUS)
    device.send("orders", order(("MILK-1L", 2, 1.25)))
    device.send("orders", order(("MILK-1L", 2, 1.15)))
    device.send("orders", order(("COFFEE-500G", 1, 6.49)))
    got = answers(status, 3)
    assert [(a["status"], a.get("reason")) for a in got] == [
        ("accepted", None), ("rejected", "price-mismatch"), ("rejected", "not-in-catalog")]


def test_default_catalogue_is_published_for_devices_the_store_learns_about(backend, device, subscriber,
                                                                          mosquitto, catalogue):
    state = {"schema": "reorder.state/1", "online": True, "firmware": "0.1.0", "outbox_depth": 0,
             "muted": False, "since": "2026-11-22T13:00:00Z"}
    device.client.publish("reorder/v1/devices/hall-02/state", json.dumps(state), qos=1, retain=True)
    device.send("orders", order(device_id="porch-03"), device_id="porch-03")
    topics = ["reorder/v1/devices/hall-02/catalog", "reorder/v1/devices/porch-03/catalog"]
    deadline = time.monotonic() + 10
    got: list = []
    while len(got) < 2 and time.monotonic() < deadline:  # retained: a late subscriber still gets it
        got = subscriber(mosquitto.port, *topics).wait_for(2, timeout=1)
    assert sorted(got) == sorted((t, catalogue.to_payload()) for t in topics)


def test_restarted_backend_answers_orders_sent_while_it_was_down(mosquitto, tmp_path, catalogue, device,
                                                                subscriber):
    status = subscriber(mosquitto.port, STATUS)
    StoreBackend(mosquitto.url, tmp_path / "store.db", catalogue=catalogue, client_id="store-a").start().stop()
    while_down = [order() for _ in range(5)]
    for sent in while_down:
        device.send("orders", sent)
    with StoreBackend(mosquitto.url, tmp_path / "store.db", catalogue=catalogue, client_id="store-a") as store:
        got = answers(status, 5)
        assert store.counts() == {"accepted": 5}
    assert [a["order_id"] for a in got] == [o["order_id"] for o in while_down]


def test_two_backends_sharing_one_database_apply_each_order_exactly_once(mosquitto, tmp_path, catalogue,
                                                                        subscriber):
    status = subscriber(mosquitto.port, "reorder/v1/devices/+/order-status")
    handled: Counter[str] = Counter()
    lock = threading.Lock()

    def counting(name: str):
        def hook(request: dict, answer: dict) -> None:
            with lock:
                handled[name] += 1
        return hook

    stores = [StoreBackend(mosquitto.url, tmp_path / "shared.db", catalogue=catalogue, client_id=f"store-{n}",
                           on_order=counting(n)).start() for n in ("a", "b")]
    devices = [Device(mosquitto.port, f"dev-{n}") for n in range(4)]
    try:
        sent = [order(("PASTA-500G", 1 + i % 5, 1.29), device_id=f"dev-{i % 4}") for i in range(200)]
        for payload in sent:  # each order twice in a row: round-robin gives the copies to both backends
            for _ in range(2):
                devices[int(payload["device_id"][-1])].send("orders", payload)
        got = [payload for _, payload in status.wait_for(400, timeout=60)]
    finally:
        for d in devices:
            d.close()
        for s in stores:
            s.stop()
    assert len(got) == 400
    statuses = Counter((a["order_id"], a["status"]) for a in got)
    for payload in sent:
        assert statuses[(payload["order_id"], "accepted")] == 1
        assert statuses[(payload["order_id"], "duplicate")] == 1
    with sqlite3.connect(tmp_path / "shared.db") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT order_id) FROM orders").fetchone() == (200, 200)
    assert handled["a"] > 0 and handled["b"] > 0 and handled["a"] + handled["b"] == 400


def test_unreachable_broker_is_one_clear_error(tmp_path):
    with pytest.raises(BrokerError, match=r"cannot reach broker 127\.0\.0\.1:.*check --broker"):
        StoreBackend(f"mqtt://127.0.0.1:{free_port()}", tmp_path / "store.db").start()


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.Popen:
    code = "import sys; from device.store.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_cli_publishes_catalogues_answers_orders_and_stops_on_sigterm(mosquitto, tmp_path, catalog_path,
                                                                     catalogue, device, subscriber):
    proc = _cli("--broker", mosquitto.url, "--db", str(tmp_path / "cli.db"), "--catalog", str(catalog_path),
                "--client-id", "store-cli", "--publish-catalog", DEVICE)
    try:
        catalog = subscriber(mosquitto.port, f"reorder/v1/devices/{DEVICE}/catalog")
        assert catalog.wait_for(1, timeout=15) == [(f"reorder/v1/devices/{DEVICE}/catalog", catalogue.to_payload())]
        status = subscriber(mosquitto.port, STATUS)
        device.send("orders", order())
        assert answers(status, 1)[0]["status"] == "accepted"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--db", "x.db", "--broker", "http://nowhere"], "--broker must look like mqtt://host:port"),
    (["--broker", "mqtt://127.0.0.1:9"], "the following arguments are required: --db"),
    (["--db", "x.db", "--broker", "mqtt://127.0.0.1:9"], "cannot reach broker 127.0.0.1:9"),
    (["--db", "x.db", "--catalog", "missing.json"], "catalogue file missing.json cannot be read"),
    (["--db", "x.db", "--password-file", "pw"], "--password-file needs --username"),
])
def test_cli_refuses_bad_input_in_one_line(tmp_path, args, message):
    proc = _cli(*args, cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert err.count("\n") == 1 and message in err, err


@pytest.fixture
def amqtt_port() -> int:
    from amqtt.broker import Broker

    port, loop = free_port(), asyncio.new_event_loop()
    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                     "auth": {"allow-anonymous": True}, "topic-check": {"enabled": False}}, loop=loop)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(broker.start(), loop).result(10)
    wait_for_port(port)
    yield port
    asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_falls_back_to_mqtt_311_on_a_broker_without_mqtt_5(amqtt_port, tmp_path, catalogue, subscriber):
    status = subscriber(amqtt_port, STATUS)
    with StoreBackend(f"mqtt://127.0.0.1:{amqtt_port}", tmp_path / "store.db", catalogue=catalogue):
        sender = Device(amqtt_port)
        try:
            sent = order()
            sender.send("orders", sent)
            sender.send("orders", sent)
            assert [a["status"] for a in answers(status, 2)] == ["accepted", "duplicate"]
        finally:
            sender.close()

