"""Delivery that never loses or doubles an order, under broker, network and device faults.

Real Mosquitto (persistence on, config written by the fixture), the reference store backend with
a stable client id, and the device's real delivery stack (tests/delivery_harness.py) or the real
`reorder replay` process. Each test ends by counting in the store: every order the device
confirmed is in the order book (0 lost) and none was applied twice (0 duplicated); re-sends are
allowed, the store answers them `duplicate`.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device.adapters.network.mqtt import MqttLink
from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.contract.inputs import Acked, BrokerDown, BrokerUp
from device.contract.topics import Topics
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from device.telemetry.stats import REASONS
from tests import speech
from tests.conftest import Mosquitto
from tests.delivery_harness import CATALOG, ROOT, Pump, Store, outbox_rows, random_order, settings_for, tally
from tests.tcp_proxy import TcpProxy, mqtt_messages

REQUEST = "could you reorder three bottles of orange juice for me"
READBACK_SECONDS = 5.5


@pytest.fixture
def store(tmp_path, mosquitto):
    made = Store(mosquitto.url, tmp_path / "store.db").start()
    yield made
    made.stop()


@pytest.fixture
def pump(tmp_path):
    """pump(url) → a Pump on tmp_path/outbox.sqlite3; closed after the test."""
    made: list[Pump] = []

    def make(url: str, **kw) -> Pump:
        made.append(Pump(url, tmp_path / "outbox.sqlite3", **kw))
        return made[-1]

    yield make
    for p in made:
        p.close()


def stream(pump: Pump, count: int, gap: tuple[float, float] = (0.0, 0.02)) -> tuple[threading.Thread, list[str]]:
    """Confirm `count` orders at random gaps in a thread; the thread and the ids (filled as it goes)."""
    ids: list[str] = []

    def run() -> None:
        for _ in range(count):
            ids.extend(pump.submit(1))
            time.sleep(random.uniform(*gap))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, ids


def assert_each_applied_once(outbox: Path, store: Store, timeout: float = 30.0) -> dict[str, int]:
    """Every order in the outbox file reaches the store; none is applied twice."""
    ids = list(outbox_rows(outbox))
    assert store.wait_applied(ids, timeout), f"not applied: {set(ids) - set(store.applied())}"
    counts = tally(ids, store)
    assert counts["lost"] == 0 and counts["duplicated"] == 0 and counts["unknown"] == 0, counts
    return counts


# -- the broker goes away and comes back ---------------------------------------------------------------
def test_order_confirmed_while_the_broker_is_down_arrives_once_when_it_is_back(mosquitto, store, pump, tmp_path):
    device = pump(mosquitto.url)
    assert device.wait(lambda: device.connected, 10)
    mosquitto.stop()
    assert device.wait(lambda: not device.connected, 10)

    order_id = device.press(("MILK-1L", 2))
    time.sleep(0.5)
    assert device.published() == [] and device.depth() == 1  # on disk, not sent

    mosquitto.start()
    assert device.wait(lambda: order_id in device.statuses(), 30), device.events[-5:]
    assert device.statuses()[order_id] == "accepted"
    assert device.published() == [order_id]
    assert outbox_rows(tmp_path / "outbox.sqlite3")[order_id]["status"] == "accepted"
    assert store.applied() == {order_id: 1}


def test_broker_killed_and_restarted_in_the_middle_of_a_stream(mosquitto, store, pump, tmp_path):
    device = pump(mosquitto.url)
    assert device.wait(lambda: device.connected, 10)
    thread, ids = stream(device, 60)
    time.sleep(random.uniform(0.2, 0.5))
    mosquitto.stop(kill=True)  # SIGKILL: no goodbye, no last save
    time.sleep(random.uniform(0.0, 0.3))
    mosquitto.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert device.wait_drained(30)
    counts = assert_each_applied_once(tmp_path / "outbox.sqlite3", store)
    assert counts["orders"] == 60
    assert sorted(device.published()) == sorted(ids)  # one `published` per order, however often re-sent


def test_connection_cut_at_random_moments(mosquitto, store, pump, tmp_path):
    with TcpProxy(mosquitto.port, seed=os.getpid()) as proxy:
        device = pump(proxy.url)
        assert device.wait(lambda: device.connected, 10)
        chaos = proxy.chaos(seconds=4.0, mean_gap=0.4, min_cuts=3)
        thread, ids = stream(device, 120, gap=(0.0, 0.06))
        thread.join(timeout=30)
        chaos.join(timeout=10)
        assert device.wait_drained(30), f"{device.depth()} orders not sent"
        assert proxy.cuts >= 3 and proxy.connections >= 2
    counts = assert_each_applied_once(tmp_path / "outbox.sqlite3", store)
    assert counts["orders"] == 120
    assert sorted(device.published()) == sorted(ids)


# -- what the broker says in its PUBACK ----------------------------------------------------------------
def test_an_order_nobody_subscribes_to_stays_unsent_until_the_store_is_there(mosquitto, pump, tmp_path):
    """Mosquitto answers 0x10 "no matching subscribers" (e.g. it restarted and, being 2.0, did not
    restore the store's shared subscription): the order is not marked sent, and goes again."""
    device = pump(mosquitto.url)
    assert device.wait(lambda: device.connected, 10)
    order_id = device.press(("OJ-1L", 1))
    time.sleep(1.0)
    assert device.published() == [] and device.depth() == 1
    store = Store(mosquitto.url, tmp_path / "store.db").start()
    try:
        assert device.wait(lambda: device.published() == [order_id], 15)
        assert device.wait(lambda: device.statuses().get(order_id) == "accepted", 10)
        assert store.applied() == {order_id: 1}
    finally:
        store.stop()


def test_an_order_the_acl_refuses_is_kept_until_the_acl_allows_it(tmp_path, pump, caplog):
    acl = tmp_path / "acl"
    acl.write_text("topic read #\ntopic write reorder/v1/devices/+/state\n")
    broker = Mosquitto(tmp_path / "mq", extra_config=f"acl_file {acl}\n").start()
    store = None
    try:
        store = Store(broker.url, tmp_path / "store.db").start()
        device = pump(broker.url)
        assert device.wait(lambda: device.connected, 10)
        order_id = device.press(("EGGS-12", 1))
        time.sleep(1.5)
        assert device.published() == [] and device.depth() == 1, "a refused PUBACK marked the order sent"
        assert any("refused the publish" in r.getMessage() and "ACL" in r.getMessage() for r in caplog.records)
        acl.write_text("topic readwrite #\n")
        broker.process.send_signal(signal.SIGHUP)  # Mosquitto reloads its ACL
        assert device.wait(lambda: device.published() == [order_id], 20)
        assert store.wait_applied([order_id], 10) and store.applied() == {order_id: 1}
    finally:
        if store:
            store.stop()
        broker.stop()


@pytest.mark.parametrize("device_restarts", [False, True], ids=["device-stays", "device-restarts"])
def test_an_order_the_broker_acknowledged_then_forgot_is_sent_again(tmp_path, pump, device_restarts):
    """The broker PUBACKs, then dies before saving or forwarding: the order was never answered,
    so the device publishes it again when it reconnects, and the store applies it once. When the
    device also restarts meanwhile, the list of acknowledged orders without an answer comes from
    the outbox, so the restarted device still sends the order again."""
    broker = Mosquitto(tmp_path / "mq", extra_config="autosave_on_changes false\nautosave_interval 3600\n").start()
    store = None
    try:
        with TcpProxy(broker.port) as to_store:
            store = Store(to_store.url, tmp_path / "store.db").start()
            device = pump(broker.url)
            assert device.wait(lambda: device.connected, 10)
            to_store.hold()  # the store will not hear the order before the broker dies
            order_id = device.press(("COFFEE-500G", 1))
            assert device.wait(lambda: device.published() == [order_id], 10)
            broker.stop(kill=True)
            if device_restarts:
                device.close()  # power cut: the order is on disk as sent, with no answer
            to_store.cut()
            to_store.release()
            broker.start()
            if device_restarts:
                device = pump(broker.url)
            assert device.wait(lambda: device.statuses().get(order_id) == "accepted", 30), device.events[-5:]
            assert store.applied() == {order_id: 1}
    finally:
        if store:
            store.stop()
        broker.stop()


def test_a_reused_packet_id_never_marks_the_wrong_order_sent(mosquitto, subscriber, tmp_path):
    """paho recycles MQTT packet ids as soon as a PUBACK frees one; a PUBACK the loop has not
    handled yet must not mark a later order that got the same packet id."""
    subscriber(mosquitto.port, "reorder/v1/devices/+/orders")  # someone takes the orders
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    catalogue = Catalogue.load(CATALOG)
    with TcpProxy(mosquitto.port) as proxy:
        settings = settings_for(proxy.url, tmp_path / "outbox.sqlite3")
        link = MqttLink(settings.mqtt, settings.device.id, inbox.put)
        delivery = Delivery(outbox, link, Topics(settings.mqtt.topic_prefix, settings.device.id))

        def handle(timeout: float = 5.0) -> object:
            item = inbox.get(timeout=timeout)
            if isinstance(item, BrokerUp):
                delivery.connection_up()
            elif isinstance(item, BrokerDown):
                delivery.connection_down()
            elif isinstance(item, Acked):
                delivery.acknowledged(item.mid)
            return item

        link.start()
        try:
            assert isinstance(handle(), BrokerUp)
            first, second = (random_order(catalogue, settings.device.id) for _ in range(2))
            link.client._last_mid = 65534  # paho's packet id counter (private): the next id is 65535
            delivery.submit(first)
            deadline = time.monotonic() + 5
            while inbox.empty() and time.monotonic() < deadline:  # its PUBACK is in the inbox, unread
                time.sleep(0.01)
            assert not inbox.empty()
            proxy.hold()  # the second order's PUBACK will not come back yet
            link.client._last_mid = 65534
            delivery.submit(second)  # gets packet id 65535 again
            assert isinstance(handle(), Acked)
            assert outbox.is_sent(first["order_id"])
            assert not outbox.is_sent(second["order_id"]), "marked sent by the first order's PUBACK"
            proxy.release()
            assert isinstance(handle(), Acked)
            assert outbox.is_sent(second["order_id"])
        finally:
            link.stop()
            outbox.close()


# -- the device process dies -------------------------------------------------------------------------
class Lines:
    """A process's stdout lines, read in a thread, waited for with a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.SimpleQueue = queue.SimpleQueue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, predicate, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            self.seen.append(line)
            if predicate(line):
                return line
        return None


def replay_command(wav: Path, broker_url: str, outbox: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "device", "replay", str(wav), "--broker", broker_url, "--device-id", "kitchen-01",
            "--outbox", str(outbox), "--catalog", str(CATALOG), *extra]


@pytest.fixture(scope="module")
def request_wav(speech_dir) -> tuple[Path, float]:
    parts = [("silence", 0.5), ("speech", "okay nabu"), ("silence", 0.7), ("speech", REQUEST)]
    head = speech.compose(speech_dir, parts)
    return speech.compose(speech_dir, [*parts, ("silence", 1.0)]), speech.duration(head)


@pytest.mark.slow
def test_device_killed_between_queued_and_published_delivers_the_order_once(mosquitto, tmp_path, request_wav,
                                                                            speech_dir):
    wav, request_end = request_wav
    outbox = tmp_path / "outbox.sqlite3"
    mosquitto.stop()  # nothing can be published: the order stays queued
    press = f"{request_end + READBACK_SECONDS:.2f}"
    first = subprocess.Popen(replay_command(wav, mosquitto.url, outbox, "--press-at", press),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        lines = Lines(first)
        queued = lines.wait_for(lambda line: json.loads(line)["event"] == "queued", 120)
        assert queued, f"no queued event: {lines.seen[-5:]}"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    order_id = json.loads(queued)["order_id"]
    assert not any(json.loads(line)["event"] == "published" for line in lines.seen)
    assert outbox_rows(outbox)[order_id]["sent_at"] is None

    mosquitto.start()
    store = Store(mosquitto.url, tmp_path / "store.db").start()
    try:
        silence = speech.silence(speech_dir, 1.0)
        done = subprocess.run(replay_command(silence, mosquitto.url, outbox, "--linger", "3"), capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert [e["order_id"] for e in events if e["event"] == "published"] == [order_id]
        assert {"event": "status", "order_id": order_id, "status": "accepted"}.items() <= \
            next(e for e in events if e["event"] == "status").items()
        assert store.applied() == {order_id: 1}
    finally:
        store.stop()


def test_device_process_killed_at_random_moments_of_a_stream(mosquitto, store, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    command = [sys.executable, "-m", "tests.delivery_harness", "--broker", mosquitto.url, "--outbox", str(outbox)]
    queued: list[str] = []
    rng = random.Random(os.getpid())
    for _ in range(4):
        process = subprocess.Popen([*command, "--count", "40", "--gap", "0.01"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        try:
            lines = Lines(process)
            assert lines.wait_for(lambda line: line.startswith("queued"), 20), lines.seen
            lines.wait_for(lambda line: False, rng.uniform(0.0, 0.4))  # a random moment of the stream
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        lines.wait_for(lambda line: False, 1.0)
        queued += [line.split()[1] for line in lines.seen if line.startswith("queued")]
    done = subprocess.run([*command, "--timeout", "30"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "drained" in done.stdout, done.stderr
    rows = outbox_rows(outbox)
    assert set(queued) <= set(rows)  # what was reported queued was on disk
    assert all(row["sent_at"] for row in rows.values())
    assert_each_applied_once(outbox, store)


# -- privacy ----------------------------------------------------------------------------------------------
CONTRACT_FIELDS = {
    "reorder.order/1": {"schema", "order_id", "device_id", "created_at", "locale", "catalog_version", "items", "total",
                        "currency", "confirmed_by"},
    "reorder.state/1": {"schema", "online", "firmware", "outbox_depth", "muted", "since"},
    "reorder.cancel/1": {"schema", "order_id", "device_id", "created_at"},
    "reorder.stats/1": set(schemas.STATS["required"]),
}
LEAVES = {"orders": "reorder.order/1", "state": "reorder.state/1", "cancel": "reorder.cancel/1",
          "stats": "reorder.stats/1"}
DISCOVERY = re.compile(r"homeassistant/(sensor|binary_sensor|switch)/kitchen-01/[a-z_]+/config")


@pytest.mark.slow
@pytest.mark.parametrize("home_assistant", [False, True], ids=["plain", "home-assistant"])
def test_everything_the_device_publishes_holds_only_contract_fields(mosquitto, store, tmp_path, request_wav,
                                                                    home_assistant):
    wav, request_end = request_wav
    extra: tuple[str, ...] = ()
    if home_assistant:  # discovery and the mute switch on the store's broker; pocketsphinx for synthetic speech
        conf = tmp_path / "device.toml"
        conf.write_text('[home_assistant]\nenabled = true\nmute_command = true\n'
                        '[recognizer]\nengine = "pocketsphinx"\n')
        extra = ("--config", str(conf))
    with TcpProxy(mosquitto.port) as proxy:
        proxy.capture = []
        done = subprocess.run(replay_command(wav, proxy.url, tmp_path / "outbox.sqlite3", "--press-at",
                                             f"{request_end + READBACK_SECONDS:.2f}", "--linger", "2", *extra),
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        capture = list(proxy.capture)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    heard = next(e for e in events if e["event"] == "transcript")["text"]
    assert "orange juice" in heard  # the device did hear the words it must not send

    sent = b"".join(data for _, direction, data in capture if direction == "up")
    streams: dict[int, bytes] = {}
    for number, direction, data in capture:
        if direction == "up":
            streams[number] = streams.get(number, b"") + data
    messages = [m for stream in streams.values() for m in mqtt_messages(stream)]
    kinds = {(kind, topic.rsplit("/", 1)[-1]) for kind, topic, _ in messages}
    assert {("publish", "orders"), ("publish", "state"), ("publish", "stats"), ("will", "state")} <= kinds, kinds
    assert any(DISCOVERY.fullmatch(topic) for _, topic, _ in messages) is home_assistant
    for kind, topic, payload in messages:
        if DISCOVERY.fullmatch(topic):  # Home Assistant's configs: topics and templates, no word heard
            assert set(json.loads(payload)) >= {"unique_id", "device"} and len(payload) < 2048, topic
            continue
        assert topic.startswith("reorder/v1/devices/kitchen-01/"), topic
        schema = LEAVES[topic.rsplit("/", 1)[-1]]
        body = json.loads(payload.decode("utf-8"))
        assert body["schema"] == schema and set(body) <= CONTRACT_FIELDS[schema], (kind, topic, body)
        if schema == "reorder.order/1":
            assert all(set(line) == {"sku", "quantity", "unit_price"} for line in body["items"]), body
        if schema == "reorder.stats/1":  # counters only: every value a number, a fixed word or a time
            for period in ("since_boot", "since_install"):
                assert set(body[period]) == set(schemas.STATS["properties"][period]["required"]), body[period]
                assert set(body[period]["refusals_by_reason"]) <= set(REASONS) | {"other"}
        # small, whatever was said: counters and fixed words only (checked field by field above); the stats
        # message is ~1 KB of them since the firmware carries its commit (0.2.0+g1234abc)
        assert len(payload) < (1280 if schema == "reorder.stats/1" else 1024), f"{len(payload)} bytes on {topic}"
    for word in (*REQUEST.split(), "nabu", heard):
        if len(word) > 3 and word != "reorder":  # "reorder" is in every topic name
            assert word.encode() not in sent.lower(), f"{word!r} left the device"
    assert b"RIFF" not in sent and len(sent) < (65_536 if home_assistant else 16_384)  # the recording is ~300 KB
