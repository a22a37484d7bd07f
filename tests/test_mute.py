"""Mute is mute from boot: a closed switch at start-up, a toggled mute across restarts, and the memory file."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build, mute_memory_path
from device.confirmation.mute import MuteFile, initial_mute
from device.runner import PressPlan, run_replay
from tests import speech

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
MUTE_PIN = 27


class ClosedSwitchPin(MockPWMPin):
    """A mock pin wired to a latched switch that is closed (to ground): the pull-up cannot raise it."""

    def _set_pull(self, value):
        super()._set_pull(value)
        self.drive_low()


# -- the memory file ---------------------------------------------------------------------------------

def test_no_memory_means_never_muted_and_a_remembered_state_comes_back(tmp_path):
    memory = MuteFile(tmp_path / "state" / "mute-state")
    assert memory.recall() is False
    memory.remember(True)
    assert MuteFile(memory.path).recall() is True and memory.path.read_text() == "muted\n"
    memory.remember(False)
    assert MuteFile(memory.path).recall() is False
    assert not memory.path.with_name("mute-state.tmp").exists()


@pytest.mark.parametrize("content", [b"", b"mute", b"\xff\xfe", b"unmuted?"])
def test_a_memory_it_cannot_read_starts_muted(tmp_path, content, caplog):
    path = tmp_path / "mute-state"
    path.write_bytes(content)
    assert MuteFile(path).recall() is True
    assert "starting muted" in caplog.text and str(path) in caplog.text


def test_a_memory_that_is_a_folder_starts_muted(tmp_path):
    (tmp_path / "mute-state").mkdir()
    assert MuteFile(tmp_path / "mute-state").recall() is True


def test_a_memory_that_cannot_be_written_is_logged_not_fatal(tmp_path, caplog):
    (tmp_path / "mute-state").mkdir()
    MuteFile(tmp_path / "mute-state").remember(True)
    assert "not written" in caplog.text


def test_the_switch_wins_over_the_memory(tmp_path):
    memory = MuteFile(tmp_path / "mute-state")
    memory.remember(True)
    assert initial_mute(False, memory) is False and initial_mute(True, None) is True
    assert initial_mute(None, memory) is True and initial_mute(None, None) is False


# -- the device ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(speech_dir) -> Path:
    return speech.compose(speech_dir, [("silence", 0.5), ("speech", "okay nabu"), ("silence", 0.7),
                                       ("speech", "order two bottles of milk"), ("silence", 2.0)])


@pytest.fixture
def device(tmp_path, mosquitto):
    """make(clip, factory, **gpio) → (device, events), built as `reorder replay` builds it."""
    made = []

    def make(clip: Path, factory: MockFactory, **gpio):
        data = {"device": {"id": "kitchen-01"}, "gpio": {"pin_factory": "mock", **gpio},
                "mqtt": {"broker": mosquitto.url},
                "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": str(CATALOG)}}
        events: list[dict] = []
        d = build(config.from_mapping(data, "test"), WavSource(clip), lambda e: events.append(e.to_dict()),
                  play_audio=False, pin_factory=factory)
        made.append(d)
        return d, events

    yield make
    for d in made:
        d.close()


def test_a_switch_closed_at_start_up_mutes_and_the_microphone_is_never_read(device, clip):
    factory = MockFactory(pin_class=MockPWMPin)
    factory.pin(MUTE_PIN, pin_class=ClosedSwitchPin)
    d, events = device(clip, factory, mute_button=MUTE_PIN, mute_is_switch=True)
    assert d.loop.muted and d.loop.state.value == "muted"
    assert d.panel.led.value == (1.0, 0.0, 0.0)  # solid red from the first moment
    opened = []
    real_open = d.source.open
    d.source.open = lambda: (opened.append(d.loop.t), real_open())
    run_replay(d, PressPlan(short=[2.0]))  # a press while muted does nothing either
    assert d.source.frames_read == 0 and opened == [] and not d.source.is_open
    assert [e["event"] for e in events if e["event"] in ("wake", "transcript", "prompt", "confirmed")] == []
    assert d.loop.state_payload()["muted"] is True


def test_opening_the_switch_after_a_muted_start_listens(device, speech_dir):
    # The wake word comes after the refractory time that follows an unmute (2 s).
    late = speech.compose(speech_dir, [("silence", 3.0), ("speech", "okay nabu"), ("silence", 0.7),
                                       ("speech", "order two bottles of milk"), ("silence", 2.0)])
    factory = MockFactory(pin_class=MockPWMPin)
    pin = factory.pin(MUTE_PIN, pin_class=ClosedSwitchPin)
    d, events = device(late, factory, mute_button=MUTE_PIN, mute_is_switch=True)
    run_replay(d, PressPlan(), actions=[(0.3, pin.drive_high)])
    assert d.source.frames_read > 0
    assert [e["state"] for e in events if e["event"] == "state"][0] in ("idle", "offline")
    assert [e["event"] for e in events if e["event"] == "wake"] == ["wake"]


def test_a_toggled_mute_is_remembered_across_a_restart(device, clip, tmp_path):
    factory = MockFactory(pin_class=MockPWMPin)
    d, _ = device(clip, factory, mute_button=MUTE_PIN)
    pin = d.panel.mute_button.pin
    run_replay(d, PressPlan(), actions=[(0.2, pin.drive_low), (0.3, pin.drive_high)])  # one toggle: muted
    assert d.loop.muted
    d.close()
    assert MuteFile(tmp_path / "mute-state").recall() is True  # beside the outbox (app.mute_memory_path)

    again = MockFactory(pin_class=MockPWMPin)
    d2, events = device(clip, again, mute_button=MUTE_PIN)
    assert d2.loop.muted and d2.loop.state.value == "muted"
    pin2 = d2.panel.mute_button.pin
    run_replay(d2, PressPlan(), actions=[(1.0, pin2.drive_low), (1.1, pin2.drive_high)])  # toggled back
    assert not d2.loop.muted and d2.source.frames_read > 0
    d2.close()

    third = MockFactory(pin_class=MockPWMPin)
    d3, _ = device(clip, third, mute_button=MUTE_PIN)
    assert not d3.loop.muted


def test_replay_never_starts_muted_from_the_devices_own_memory(tmp_path):
    """The memory sits beside the outbox; replay without --outbox has its own (see test_end_to_end)."""
    settings = config.from_mapping({"storage": {"outbox": str(tmp_path / "x" / "outbox.sqlite3")}}, "test")
    assert mute_memory_path(settings) == tmp_path / "x" / "mute-state"
