"""From espeak-ng speech to an order on a real Mosquitto, through the real `reorder replay` command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import speech

pytestmark = pytest.mark.slow

REQUEST = "could you reorder three bottles of orange juice for me"
READBACK_SECONDS = 5.5
"""End of the request → a press that comes after the items and total were read back."""


def replay(wav: Path, broker_url: str, tmp_path: Path, *extra: str, catalog: Path | None = None) -> list[dict]:
    """Run `reorder replay` as a user would; its JSON-lines events."""
    cmd = [sys.executable, "-m", "device", "replay", str(wav), "--broker", broker_url, "--device-id", "kitchen-01",
           "--outbox", str(tmp_path / "outbox.sqlite3"), *extra]
    if catalog:
        cmd += ["--catalog", str(catalog)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def names(events: list[dict]) -> list[str]:
    return [e["event"] for e in events if e["event"] not in ("state", "said")]


@pytest.fixture(scope="module")
def request_wav(speech_dir) -> tuple[Path, float]:
    """"okay nabu … could you reorder three bottles of orange juice for me", and when the request ends."""
    parts = [("silence", 0.5), ("speech", "okay nabu"), ("silence", 0.7), ("speech", REQUEST)]
    head = speech.compose(speech_dir, parts)
    return speech.compose(speech_dir, [*parts, ("silence", 1.0)]), speech.duration(head)


def test_spoken_request_and_press_put_one_order_on_the_broker(mosquitto, subscriber, tmp_path, request_wav,
                                                               catalog_path):
    wav, request_end = request_wav
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    events = replay(wav, mosquitto.url, tmp_path, "--press-at", f"{request_end + READBACK_SECONDS:.2f}",
                    catalog=catalog_path)

    assert names(events)[:7] == ["wake", "transcript", "intent", "prompt", "confirmed", "queued", "published"]
    wake = next(e for e in events if e["event"] == "wake")
    assert wake["engine"] == "microwakeword" and wake["keyword"] == "okay_nabu" and wake["score"] >= 0.93
    intent = next(e for e in events if e["event"] == "intent")
    assert intent["action"] == "reorder"
    assert [(i["sku"], i["quantity"]) for i in intent["items"]] == [("OJ-1L", 3)]
    prompt = next(e for e in events if e["event"] == "prompt")
    assert "orange juice" in prompt["text"] and "7.77" in prompt["text"] and prompt["total"] == 7.77
    queued = next(e for e in events if e["event"] == "queued")
    published = next(e for e in events if e["event"] == "published")
    assert queued["order_id"] == published["order_id"]

    messages = store.wait_for(1, timeout=10)
    time.sleep(0.5)  # anything else would have arrived by now
    assert len(store.messages) == 1
    topic, order = messages[0]
    assert topic == "reorder/v1/devices/kitchen-01/orders"
    assert order["order_id"] == queued["order_id"]
    assert order["schema"] == "reorder.order/1" and order["device_id"] == "kitchen-01"
    assert order["items"] == [{"sku": "OJ-1L", "quantity": 3, "unit_price": 2.59}]
    assert order["total"] == 7.77 and order["currency"] == "EUR" and order["confirmed_by"] == "button"
    # Nothing heard leaves the device: only the contract's fields, no transcript, no audio.
    assert set(order) == {"schema", "order_id", "device_id", "created_at", "locale", "catalog_version", "items",
                          "total", "currency", "confirmed_by"}
    assert REQUEST not in json.dumps(order) and "orange juice" not in json.dumps(order)


def test_same_request_without_a_press_times_out_and_orders_nothing(mosquitto, subscriber, tmp_path, request_wav,
                                                                   catalog_path):
    wav, _ = request_wav
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    events = replay(wav, mosquitto.url, tmp_path, catalog=catalog_path)
    assert "prompt" in names(events)
    timeout = next(e for e in events if e["event"] == "timeout")
    assert timeout["by"] == "timer"
    assert not {"confirmed", "queued", "published"} & set(names(events))
    time.sleep(1.0)
    assert store.messages == []


def test_a_press_during_the_read_back_does_not_order(mosquitto, subscriber, tmp_path, request_wav, catalog_path):
    wav, request_end = request_wav
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    events = replay(wav, mosquitto.url, tmp_path, "--press-at", f"{request_end + 1.0:.2f}", catalog=catalog_path)
    ignored = [e for e in events if e["event"] == "ignored"]
    assert ignored and ignored[0]["what"] == "press"
    assert "confirmed" not in names(events) and "timeout" in names(events)
    time.sleep(0.5)
    assert store.messages == []


def test_a_request_without_the_wake_word_is_not_heard(mosquitto, subscriber, tmp_path, say, catalog_path):
    wav = say([("silence", 0.5), ("speech", REQUEST), ("silence", 1.0)])
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    events = replay(wav, mosquitto.url, tmp_path, "--press-at", "8", catalog=catalog_path)
    assert "wake" not in names(events) and "transcript" not in names(events)
    # A press while idle is push-to-talk: it opens listening (nobody speaks), never an order.
    assert "confirmed" not in names(events)
    time.sleep(0.5)
    assert store.messages == []


def test_long_press_cancels_the_pending_order(mosquitto, subscriber, tmp_path, request_wav, catalog_path):
    wav, request_end = request_wav
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    events = replay(wav, mosquitto.url, tmp_path, "--long-press-at", f"{request_end + READBACK_SECONDS:.2f}",
                    catalog=catalog_path)
    cancelled = next(e for e in events if e["event"] == "cancelled")
    assert cancelled["by"] == "long-press"
    assert "confirmed" not in names(events)
    time.sleep(0.5)
    assert store.messages == []


def test_a_request_heard_two_ways_is_refused_not_read_back(mosquitto, subscriber, tmp_path, say, catalog_path):
    # Said by espeak-ng's en-us+m3 voice and cut by the endpointer, this request means one thing to
    # pocketsphinx and another on its second decoding: the device refuses rather than guess.
    parts = [("silence", 0.5), ("speech", "okay nabu"), ("silence", 0.7), ("speech", "I need two milk and one bread")]
    request_end = speech.duration(say(parts, voice="en-us+m3"))
    wav = say([*parts, ("silence", 1.0)], voice="en-us+m3")
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    events = replay(wav, mosquitto.url, tmp_path, "--press-at", f"{request_end + READBACK_SECONDS:.2f}",
                    "--recognizer", "pocketsphinx", catalog=catalog_path)
    rejected = next(e for e in events if e["event"] == "rejected")
    assert rejected["reason"] == "low-confidence" and "second decoding" in rejected["detail"]
    assert not {"prompt", "confirmed", "queued"} & set(names(events))
    time.sleep(0.5)
    assert store.messages == []


def test_replay_leaves_the_production_outbox_alone_unless_given_outbox(mosquitto, subscriber, tmp_path, speech_dir,
                                                                       catalog_path):
    """An earlier device's unanswered order in the default outbox: a replay under another id neither
    sends it nor touches the file; even given that outbox, it never sends it under its own id."""
    from datetime import datetime, timezone

    from device.contract.catalogue import Catalogue
    from device.events import IntentItem
    from device.orders.outbox import Outbox
    from device.orders.payload import build_order

    state = tmp_path / "state"
    production = state / "reorder" / "outbox.sqlite3"
    outbox = Outbox(production)
    order = build_order((IntentItem("MILK-1L", 1),), Catalogue.load(catalog_path), "kitchen-01", "en-US", "button",
                        datetime.now(timezone.utc))
    outbox.add(order)
    outbox.close()
    before = production.read_bytes()
    orders = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    silence = speech.compose(speech_dir, [("silence", 1.0)])
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(state), "PATH": __import__("os").environ["PATH"]}

    def run(*extra: str) -> None:
        done = subprocess.run([sys.executable, "-m", "device", "replay", str(silence), "--broker", mosquitto.url,
                               *extra], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr

    import paho.mqtt.client as mqtt

    retained = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-catalogue")
    retained.connect("127.0.0.1", mosquitto.port)
    retained.loop_start()
    retained.publish("reorder/v1/devices/hall-02/catalog", catalog_path.read_bytes(), qos=1,
                     retain=True).wait_for_publish(5)
    retained.loop_stop()
    retained.disconnect()
    run("--device-id", "hall-02")  # gets the retained catalogue: a device would cache it beside its outbox
    time.sleep(0.5)
    assert orders.messages == [] and production.read_bytes() == before
    assert not (state / "reorder" / "catalog.json").exists()  # no production file written either
    run("--device-id", "hall-02", "--outbox", str(production), "--catalog", str(catalog_path))
    time.sleep(0.5)
    assert orders.messages == []
    run("--device-id", "kitchen-01", "--outbox", str(production), "--catalog", str(catalog_path))  # its own sends it
    assert [(t, m["order_id"]) for t, m in orders.wait_for(1)] == [("reorder/v1/devices/kitchen-01/orders",
                                                                   order["order_id"])]
