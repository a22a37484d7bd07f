"""`reorder demo` as a newcomer (or CI) runs it: no terminal, the bundled recording, an accepted order."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from device.adapters.speech.vosk import find_model
from device.audio.source import FRAME_SECONDS, SILENT_FRAME
from device.demo.broker import EmbeddedBroker
from device.demo.driver import DemoResult
from device.demo.view import FORMATS, PlainView, describe
from device.events import ALL_EVENTS, Prompt, Queued, Said, Status, Timeout
from device.prepare.whisper import default_model_dir as whisper_dir
from device.prepare.whisper import is_prepared
from tests.conftest import SAMPLES

DEMO_TIMEOUT = 120
"""Seconds a whole demo may take here (it takes about 15-20 s: models, then the recording in real time)."""
NOT_CLEAN = ("Traceback", "Task was destroyed", "Exception ignored", "Event loop is closed", "never awaited")


def demo(tmp_path: Path, *args: str, timeout: float = DEMO_TIMEOUT, **extra_env: str) -> subprocess.CompletedProcess:
    """`python -m device demo ARGS` with no terminal on stdin and its state folder inside tmp_path."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), **extra_env}
    env.pop("STATE_DIRECTORY", None)
    env.pop("REORDER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "device", "demo", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)


def assert_accepted(done: subprocess.CompletedProcess, tmp_path: Path, total: str = "Total €8.79",
                    received: str = "1 × COFFEE-500G, 2 × MILK-1L, total 8.79 EUR → sent accepted") -> None:
    """The demo pressed the button itself after the read-back, the store got the order and accepted it."""
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out}\nstderr:\n{done.stderr}"
    assert not any(bad in done.stderr for bad in NOT_CLEAN), done.stderr
    lines = out.splitlines()

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    prompt, pressed = first(" prompt "), first("pressing the button myself")
    got, accepted = first("received from demo-kitchen"), first("the store says accepted")
    assert total in lines[prompt], lines[prompt]
    assert prompt < pressed < got and pressed < accepted
    assert received in lines[got], lines[got]
    assert lines[-1].startswith("demo: done: the store accepted order")
    # Outbox and catalogue cache went to a temporary folder, not the user's state folder.
    assert not (tmp_path / "state" / "reorder").exists()


@pytest.mark.slow
def test_demo_without_a_terminal_presses_the_button_itself_and_ends_in_an_accepted_order(tmp_path):
    done = demo(tmp_path)
    assert_accepted(done, tmp_path)
    assert "broker: embedded amqtt on mqtt://127.0.0.1:" in done.stdout
    assert "catalogue version 1 received from the broker (retained message)" in done.stdout


@pytest.mark.slow
def test_demo_on_another_broker(tmp_path, mosquitto, subscriber):
    orders = subscriber(mosquitto.port, "reorder/v1/devices/demo-kitchen/orders")
    done = demo(tmp_path, "--broker", mosquitto.url)
    assert_accepted(done, tmp_path)
    assert f"broker: {mosquitto.url}" in done.stdout and "amqtt" not in done.stdout
    (topic, order), = orders.wait_for(1, timeout=5)
    assert order["device_id"] == "demo-kitchen" and order["total"] == 8.79


@pytest.mark.slow
@pytest.mark.skipif(not is_prepared(whisper_dir()), reason=f"the Whisper model is not prepared in {whisper_dir()} "
                    "(scripts/dev setup prepares it)")
def test_french_demo_out_of_the_box_with_whisper_ends_in_an_accepted_order(tmp_path):
    done = demo(tmp_path, "--lang", "fr", timeout=DEMO_TIMEOUT * 4)  # Whisper's search is slower than Moonshine's
    assert_accepted(done, tmp_path, total="7,78 €",
                    received="1 × COFFEE-500G, 1 × PASTA-500G, total 7.78 EUR → sent accepted")


@pytest.mark.skipif(find_model("", "fr-FR") is not None, reason="a French Vosk model is installed here")
def test_french_without_a_french_model_says_in_one_line_how_to_install_it(tmp_path):
    done = demo(tmp_path, "--lang", "fr", timeout=30, REORDER_MODELS_DIR=str(tmp_path / "no-models"))
    assert done.returncode == 1  # a missing model is an error (CONTRACT §1); nothing was started
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "French" in done.stderr and "device.prepare.whisper" in done.stderr
    assert "scripts/model_fetch.py" in done.stderr and "--locale fr-FR" in done.stderr


def _has_microphone() -> bool:
    try:
        import sounddevice

        sounddevice.query_devices(kind="input")
        return True
    except Exception:
        return False


@pytest.mark.skipif(_has_microphone(), reason="this machine has a microphone")
def test_mic_without_a_microphone_is_one_clear_line(tmp_path):
    done = demo(tmp_path, "--mic", timeout=30)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "microphone" in done.stderr and "without --mic" in done.stderr


class PacedRecording:
    """A stand-in microphone: the English sample, delivered frame by frame in real time, then silence."""

    def __init__(self, device: str = "") -> None:
        from device.adapters.audio.wav_source import WavSource

        self.name = "paced demo-en.wav"
        self._wav = WavSource(SAMPLES / "demo-en.wav")
        self._next = 0.0

    @property
    def is_open(self) -> bool:
        return self._wav.is_open

    def open(self) -> None:
        self._wav.open()
        self._next = time.monotonic()

    def read(self) -> bytes:
        self._next += FRAME_SECONDS
        time.sleep(max(0.0, self._next - time.monotonic()))
        return self._wav.read() or SILENT_FRAME

    def close(self) -> None:
        self._wav.close()


@pytest.mark.slow
def test_mic_mode_drives_the_loop_from_the_microphone(monkeypatch, capsys, tmp_path):
    import device.adapters.audio.microphone
    import device.demo

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(device.adapters.audio.microphone, "Microphone", PacedRecording)
    monkeypatch.setattr(device.demo, "_check_microphone", lambda: None)
    with open(os.devnull) as no_terminal:  # it presses the button itself
        monkeypatch.setattr(sys, "stdin", no_terminal)
        assert device.demo.main(argparse.Namespace(mic=True, lang="en", broker=None)) == 0
    out = capsys.readouterr().out
    assert "listening to the microphone" in out and "pressing the button myself" in out
    assert out.splitlines()[-1].startswith("demo: done: the store accepted order")


@pytest.mark.parametrize("url, code, words", [
    ("mqtt://127.0.0.1:1", 1, "cannot reach broker 127.0.0.1:1"),
    ("http://example", 2, "--broker must look like mqtt://host:port"),
])
def test_a_bad_broker_is_one_clear_line(tmp_path, url, code, words):
    done = demo(tmp_path, "--broker", url, timeout=60)
    assert done.returncode == code
    assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr


def test_the_embedded_broker_carries_retained_messages_and_stops_cleanly():
    got = threading.Event()
    with EmbeddedBroker() as broker:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="demo-test", protocol=mqtt.MQTTv311)
        client.on_message = lambda *a: got.set()
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        client.publish("reorder/v1/devices/x/catalog", b"{}", qos=1, retain=True).wait_for_publish(5)
        client.subscribe("reorder/v1/devices/x/catalog", 1)
        assert got.wait(5), "the retained message did not come back"
        client.disconnect()
        client.loop_stop()
    assert "stopped" in repr(broker)
    broker.stop()  # idempotent


def test_every_event_has_words_in_the_view():
    assert {cls.name for cls in ALL_EVENTS} <= set(FORMATS)
    assert describe(Timeout(1.0, during="listening")) == "nobody answered during listening"


def test_the_automatic_press_waits_for_the_read_back_summary(capsys):
    outcome = DemoResult()
    outcome.observe(Prompt(5.0, "1 coffee. Total €6.49.", 6.49, "EUR"))
    assert outcome.summary_seconds is None
    outcome.observe(Said(5.0, "1 coffee, 6 euros 49", 2.5))
    outcome.observe(Said(5.0, "Press the button to order.", 1.5))
    assert (outcome.prompt_at, outcome.summary_seconds) == (5.0, 2.5)  # the first `said` after the prompt
    outcome.observe(Queued(9.0, "abc-1"))
    outcome.observe(Status(9.2, "other-order", "accepted"))
    assert not outcome.accepted
    outcome.observe(Status(9.2, "abc-1", "accepted"))
    assert outcome.accepted and outcome.finished
    PlainView(clock=lambda: 9.2).event(Status(9.2, "abc-1", "accepted"))
    assert capsys.readouterr().out == "   9.20 s  status     order abc: the store says accepted\n"
