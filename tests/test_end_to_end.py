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
    """"hey jarvis … could you reorder three bottles of orange juice for me", and when the request ends."""
    parts = [("silence", 0.5), ("speech", "hey jarvis"), ("silence", 0.7), ("speech", REQUEST)]
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
    assert wake["engine"] == "openwakeword" and wake["keyword"] == "hey_jarvis" and wake["score"] >= 0.5
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
    parts = [("silence", 0.5), ("speech", "hey jarvis"), ("silence", 0.7), ("speech", "I need two milk and one bread")]
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
