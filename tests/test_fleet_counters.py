"""The counters of a replayed session, as an operator and a household's Home Assistant read them.

One recording (espeak-ng, pocketsphinx set explicitly: synthetic speech is pocketsphinx plumbing)
with a wake nobody followed, a refused request, an order confirmed by a press and a read-back nobody
confirmed; the real store backend answers. The retained `stats` on the store's Mosquitto must say
exactly that; a second, household Mosquitto gets the same state and counters and the discovery
configs, and never an order. A second boot starts `since_boot` again and keeps `since_install`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build
from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.runner import PressPlan, run_replay
from device.store import StoreBackend
from tests import speech
from tests.conftest import Mosquitto
from tests.test_home_assistant import Retained, wait_until

pytestmark = pytest.mark.slow

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
DEVICE = "kitchen-01"
BASE = f"reorder/v1/devices/{DEVICE}"
READBACK = 5.0


def hey(request: str | None, after: float) -> list:
    said = [("speech", "okay nabu"), ("silence", 0.7)]
    return [*said, ("speech", request), ("silence", after)] if request else [*said, ("silence", after)]


@pytest.fixture
def household(tmp_path):
    broker = Mosquitto(tmp_path / "household").start()
    yield broker
    broker.stop()


def test_counters_follow_a_session_and_reach_the_operator_and_home_assistant(tmp_path, mosquitto, household,
                                                                              subscriber, speech_dir):
    parts = [("silence", 0.5), *hey(None, 6.5),  # nobody speaks: a false wake
             *hey("order fifteen bottles of milk", 8.0),  # refused: over-max-quantity
             *hey("order two bottles of milk", 9.0),  # confirmed by a press
             *hey("order a coffee", 18.0)]  # read back, never confirmed: a timeout
    ends = [speech.duration(speech.compose(speech_dir, parts[:i + 1])) for i in range(len(parts))]
    press_at = ends[parts.index(("speech", "order two bottles of milk"))] + READBACK
    data = {"device": {"id": DEVICE}, "gpio": {"pin_factory": "mock"}, "mqtt": {"broker": mosquitto.url},
            "recognizer": {"engine": "pocketsphinx"},
            "home_assistant": {"enabled": True, "broker": household.url, "mute_command": True},
            "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": str(CATALOG)}}
    settings = config.from_mapping(data, "test")
    household_orders = subscriber(household.port, "reorder/#")
    store = StoreBackend(mosquitto.url, tmp_path / "store.db", catalogue=Catalogue.load(CATALOG)).start()
    events: list[dict] = []
    d = build(settings, WavSource(speech.compose(speech_dir, parts)), lambda e: events.append(e.to_dict()),
              play_audio=False)
    try:
        assert wait_until(lambda: d.loop.state.value == "idle", d)
        run_replay(d, PressPlan(short=[press_at]), linger=1.0)
        seen = [(e["event"], e.get("reason") or e.get("during") or e.get("status")) for e in events
                if e["event"] in ("wake", "timeout", "rejected", "queued", "status")]
        assert seen == [("wake", None), ("timeout", "listening"), ("wake", None), ("rejected", "over-max-quantity"),
                        ("wake", None), ("queued", None), ("status", "accepted"), ("wake", None),
                        ("timeout", "confirmation")], seen
        operator = Retained(mosquitto.port, f"{BASE}/stats", f"{BASE}/state")
        home = Retained(household.port, "#")
    finally:
        d.close()
        store.stop()

    stats = operator.json(f"{BASE}/stats")
    assert schemas.problem(stats, schemas.STATS) is None
    boot = stats["since_boot"]
    assert {k: boot[k] for k in ("wakes", "false_wakes", "no_speech", "push_to_talk", "requests", "refusals",
                                 "readbacks", "confirmations", "timeouts", "cancellations", "orders_queued",
                                 "orders_published", "store_accepted", "store_rejected", "decodes", "errors")} == {
        "wakes": 4, "false_wakes": 1, "no_speech": 1, "push_to_talk": 0, "requests": 3, "refusals": 1,
        "readbacks": 2, "confirmations": 1, "timeouts": 1, "cancellations": 0, "orders_queued": 1,
        "orders_published": 1, "store_accepted": 1, "store_rejected": 0, "decodes": 3, "errors": 0}
    assert boot["refusals_by_reason"] == {"over-max-quantity": 1} and boot["mean_decode_ms"] > 0
    assert stats["since_install"] == boot and stats["recognizer"] == "pocketsphinx"
    assert stats["last_order_status"] == "accepted" and stats["outbox_depth"] == 0
    assert stats["outbox_free_bytes"] > 0

    # The household broker: state, counters and discovery, nothing else; never an order.
    kinds = {t.removeprefix(f"{BASE}/") for t in home.messages if t.startswith(BASE)}
    assert kinds == {"state", "stats"}, kinds
    assert home.json(f"{BASE}/stats")["since_boot"] == boot
    assert all(t.startswith(("homeassistant/", BASE)) for t in home.messages)
    assert len([t for t in home.messages if t.startswith("homeassistant/")]) >= 10
    assert {t.rsplit("/", 1)[-1] for t, _ in household_orders.messages} <= {"state", "stats"}
    assert json.loads(home.messages[f"{BASE}/state"])["online"] is True
    gone = Retained(household.port, f"{BASE}/state", wait=0.5).json(f"{BASE}/state")
    assert gone["online"] is False  # the goodbye reached the household broker too

    # A second boot: since_boot starts again, since_install goes on.
    again = build(settings, WavSource(speech.silence(speech_dir, 1.0)), lambda e: None, play_audio=False)
    try:
        assert wait_until(lambda: again.loop.state.value == "idle", again)
        run_replay(again, PressPlan())
        after = Retained(mosquitto.port, f"{BASE}/stats", wait=0.5).json(f"{BASE}/stats")
    finally:
        again.close()
    assert after["since_install"]["wakes"] == 4 and after["since_install"]["store_accepted"] == 1
    assert after["since_boot"]["wakes"] == 0 and after["since_boot"]["mean_decode_ms"] is None
    assert after["installed_at"] == stats["installed_at"] and after["booted_at"] >= stats["booted_at"]
