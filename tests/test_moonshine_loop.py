"""Real people through the whole loop with Moonshine: recording → replay → recogniser → intent → press → Mosquitto.

The recordings are crowd-sourced coffee orders (tests/data/realspeech/README.md); the catalogue is a
café's, so that they are re-order requests. Push-to-talk starts each request (a press while idle).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device.adapters.speech.moonshine import MODEL_FILES, default_model_dir
from tests import loop_run

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data" / "realspeech"
if not all((default_model_dir() / f).exists() for f in MODEL_FILES):
    pytest.skip(f"the Moonshine model is not prepared in {default_model_dir()} (scripts/dev setup prepares it)",
                allow_module_level=True)


def cafe(*names: str, version: int = 1) -> dict:
    items = {"latte": ("LATTE", 3.2), "house coffee": ("HOUSE", 2.4), "iced coffee": ("ICED", 3.0),
             "americano": ("AMERICANO", 2.8), "cappuccino": ("CAPPU", 3.1), "espresso": ("ESPRESSO", 2.0)}
    return {"schema": "reorder.catalog/1", "version": version, "currency": "EUR", "items": [
        {"sku": items[n][0], "names": {"en": [n], "fr": [n]}, "unit_price": items[n][1], "max_quantity": 6}
        for n in names]}


ALL = ("latte", "house coffee", "iced coffee", "americano", "cappuccino", "espresso")


def test_a_real_request_through_reorder_replay_puts_the_order_on_mosquitto(mosquitto, subscriber, tmp_path):
    catalog = tmp_path / "cafe.json"
    catalog.write_text(json.dumps(cafe(*ALL)))
    store = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    cmd = [sys.executable, "-m", "device", "replay", str(DATA / "barista_house_coffee.wav"), "--broker", mosquitto.url,
           "--device-id", "cafe-01", "--outbox", str(tmp_path / "outbox.sqlite3"), "--catalog", str(catalog),
           "--recognizer", "moonshine", "--press-at", "0.2", "--press-at", "14.0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    transcript = next(e for e in events if e["event"] == "transcript")
    assert transcript["text"] == "can i get a house coffee" and transcript["confidence"] >= 0.85
    prompt = next(e for e in events if e["event"] == "prompt")
    assert prompt["items"] == [{"sku": "HOUSE", "quantity": 1}] and prompt["total"] == 2.4
    assert [e["event"] for e in events if e["event"] in ("confirmed", "queued", "published")] == [
        "confirmed", "queued", "published"]
    (topic, order), = store.wait_for(1)
    assert topic == "reorder/v1/devices/cafe-01/orders"
    assert order["items"] == [{"sku": "HOUSE", "quantity": 1, "unit_price": 2.4}] and order["total"] == 2.4


def run(tmp_path, mosquitto, wav: Path, catalogue: dict | None, presses=(0.2,), actions=(),
        device_actions=(), recognizer=None) -> list[dict]:
    return loop_run.run(tmp_path, mosquitto.url, wav, catalogue, engine="moonshine", device_id="cafe", locale="en-US",
                        presses=presses, actions=actions, device_actions=device_actions, recognizer=recognizer)


of = loop_run.of


def test_an_item_missing_from_the_catalogue_is_refused_not_guessed(tmp_path, mosquitto):
    events = run(tmp_path, mosquitto, DATA / "barista_medium_mocha.wav", cafe(*ALL))  # no mocha, no "medium"
    assert of(events, "transcript") and of(events, "prompt") == [] and of(events, "queued") == []
    assert of(events, "rejected") or of(events, "intent")[0]["action"] == "none"


def test_a_new_retained_catalogue_rebuilds_the_grammar_and_the_new_item_is_heard(tmp_path, mosquitto):
    from tests.test_live_catalogue import publish

    twice = tmp_path / "latte-twice.wav"
    subprocess.run(["sox", str(DATA / "barista_latte.wav"), "-p", "pad", "0", "20"], check=True,
                   stdout=open(tmp_path / "a.sox", "wb"))
    subprocess.run(["sox", str(tmp_path / "a.sox"), str(DATA / "barista_latte.wav"), "-b", "16", str(twice)],
                   check=True)
    topic = "reorder/v1/devices/cafe/catalog"
    publish(mosquitto.port, topic, cafe("house coffee", "iced coffee", "americano"))
    second = 27.7 + 0.2

    def swap(device) -> None:  # at 14 s of audio: published, and in the device's hands before audio moves on
        publish(mosquitto.port, topic, cafe(*ALL, version=2))
        deadline = time.monotonic() + 30
        while device.loop.catalogue.version != 2 and time.monotonic() < deadline:
            device.loop.drain()
            time.sleep(0.02)
        assert device.loop.catalogue.version == 2

    events = run(tmp_path, mosquitto, twice, None, presses=(0.2, second), device_actions=[(14.0, swap)])
    first, later = of(events, "transcript")
    assert first["text"] != "may i have a latte" or first["confidence"] < 0.85  # no latte in v1's grammar
    assert not [p for p in of(events, "prompt") if p["t"] < second]
    assert later["text"] == "may i have a latte" and later["confidence"] >= 0.85
    assert of(events, "prompt")[-1]["items"] == [{"sku": "LATTE", "quantity": 1}]


def test_recognition_started_before_the_end_silence_decides_exactly_as_at_the_end(tmp_path, mosquitto):
    wav = DATA / "barista_house_coffee.wav"
    seen = {}

    def look(device) -> None:  # after the request: how the device's recogniser got its result
        seen["early"] = device.loop.requests.recognizer.inner  # TimedRecognizer → EarlyStart

    (tmp_path / "early").mkdir()
    (tmp_path / "late").mkdir()
    early = run(tmp_path / "early", mosquitto, wav, cafe(*ALL), device_actions=[(13.0, look)])
    late = run(tmp_path / "late", mosquitto, wav, cafe(*ALL), recognizer={"early_start": False})
    assert seen["early"].used == 1 and seen["early"].started >= 1
    heard = [(e["event"], e["t"], e.get("text"), e.get("confidence")) for e in early if e["event"] != "published"]
    assert heard == [(e["event"], e["t"], e.get("text"), e.get("confidence")) for e in late
                     if e["event"] != "published"]
    assert of(early, "transcript")[0]["text"] == "can i get a house coffee"


def noisy(tmp_path: Path, wav: Path, snr_db: float) -> Path:
    """`wav` with 2 s more after it, in the benchmark's kitchen noise at `snr_db` (its peak-frame rule,
    bench.corpus.peak_mix), noise throughout as in a kitchen (tests/data/realspeech/README.md)."""
    from bench import corpus

    speech = np.concatenate([corpus.sox_float(wav), np.zeros(32000, np.float32)])
    mixed = corpus.peak_mix(speech, corpus.sox_float(DATA / "kitchen_noise_12s.flac"), snr_db, 0, 0.9)
    return corpus.write_wav(tmp_path / f"{wav.stem}-{snr_db:g}dB.wav", (mixed * 32767).astype("<i2"))


@pytest.mark.parametrize("vad", ["silero", "webrtc"])
def test_in_6_db_kitchen_noise_the_request_ends_when_the_speech_does(tmp_path, mosquitto, vad):
    wav = DATA / "barista_house_coffee.wav"
    (tmp_path / "clean").mkdir()
    (tmp_path / "noisy").mkdir()
    quiet = of(run(tmp_path / "clean", mosquitto, wav, cafe(*ALL)), "transcript")[0]
    heard = of(run(tmp_path / "noisy", mosquitto, noisy(tmp_path, wav, 6), cafe(*ALL), recognizer={"vad": vad}),
               "transcript")[0]
    if vad == "silero":  # the default with Moonshine: ended where it ends in a quiet room, and heard
        assert heard["t"] <= quiet["t"] + 0.4 and heard["text"] == "can i get a house coffee"
    else:  # the WebRTC VAD hears the noise as speech until the request is cut at max_utterance_seconds
        assert heard["t"] >= 0.2 + 8.0
