"""A replay's first events do not depend on how fast the broker answered: the broker's first answer (connected
or refused) is heard before audio time starts (device.runner.run_replay, MqttLink.first_attempt)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build
from device.runner import LINK_WAIT_SECONDS, PressPlan, run_replay
from tests import speech
from tests.support import free_port

pytestmark = pytest.mark.slow
CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"


def replay(tmp_path: Path, broker: str, speech_dir: Path) -> tuple[list[dict], float]:
    data = {"device": {"id": "kitchen-01"}, "gpio": {"pin_factory": "mock"}, "mqtt": {"broker": broker},
            "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": str(CATALOG)}}
    events: list[dict] = []
    device = build(config.from_mapping(data, "test"), WavSource(speech.silence(speech_dir, 1.0)),
                   lambda e: events.append(e.to_dict()), play_audio=False)
    started = time.monotonic()
    try:
        run_replay(device, PressPlan())
    finally:
        device.close(flush_seconds=0.0)
    return [e for e in events if e["event"] == "state"], time.monotonic() - started


def test_with_the_broker_up_the_replay_is_idle_from_its_first_instant(tmp_path, mosquitto, speech_dir):
    states, _ = replay(tmp_path, mosquitto.url, speech_dir)
    assert states[0] == {"event": "state", "t": 0.0, "state": "idle", "previous": "offline"}
    assert len(states) == 1  # connected before the audio started, and never lost


def test_with_no_broker_the_replay_starts_offline_at_once_and_stays_so(tmp_path, speech_dir):
    states, took = replay(tmp_path, f"mqtt://127.0.0.1:{free_port()}", speech_dir)  # nothing listens there
    assert states == []  # offline from the start: no "broker back" ever
    assert took < LINK_WAIT_SECONDS  # the refused connection ended the wait, not the bound
