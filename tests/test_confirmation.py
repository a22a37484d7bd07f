"""Confirmation and purchase safety, in-process with real engines, mock pins and a real broker.

Each test speaks to the device (espeak-ng), drives gpiozero's MockFactory pins at times of the
recording, and checks the events, the LED and what reached Mosquitto.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build
from device.confirmation.led import PATTERNS, Light
from device.contract.catalogue import Catalogue
from device.runner import PressPlan, run_replay
from device.store import StoreBackend
from tests import speech

pytestmark = pytest.mark.slow

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
READBACK = 5.0
"""Seconds after a request ends by which items and total have been read back."""


class Clip:
    """A recording built from parts, knowing when each part ends."""

    def __init__(self, speech_dir: Path, parts: list, voice: str = "en-us") -> None:
        self.ends: list[float] = []
        for i in range(len(parts)):
            self.ends.append(speech.duration(speech.compose(speech_dir, parts[: i + 1], voice=voice)))
        self.path = speech.compose(speech_dir, parts, voice=voice)

    def end_of(self, index: int) -> float:
        return self.ends[index]


@pytest.fixture
def device(tmp_path, mosquitto):
    """make(clip, **sections) → (device, events): a device built as `reorder replay` builds it."""
    made = []

    def make(clip: Clip, **sections):
        data = {"device": {"id": "kitchen-01"}, "gpio": {"pin_factory": "mock"},
                "mqtt": {"broker": mosquitto.url},
                "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": str(CATALOG)}}
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        events: list[dict] = []
        d = build(config.from_mapping(data, "test"), WavSource(clip.path), lambda e: events.append(e.to_dict()),
                  play_audio=False)
        made.append(d)
        return d, events

    yield make
    for d in made:
        d.close()


@pytest.fixture
def store(tmp_path, mosquitto):
    backend = StoreBackend(mosquitto.url, tmp_path / "store.db", catalogue=Catalogue.load(CATALOG)).start()
    yield backend
    backend.stop()


def of(events: list[dict], name: str) -> list[dict]:
    return [e for e in events if e["event"] == name]


def hey(request: str) -> list:
    return [("silence", 0.5), ("speech", "okay nabu"), ("silence", 0.7), ("speech", request)]


def test_undo_within_the_window_publishes_cancel_and_shows_the_stores_answer(device, store, subscriber, mosquitto,
                                                                              speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 1.0)])
    cancels = subscriber(mosquitto.port, "reorder/v1/devices/+/cancel")
    d, events = device(clip, confirmation={"undo_seconds": 20})
    confirm_at = clip.end_of(3) + READBACK
    run_replay(d, PressPlan(short=[confirm_at, confirm_at + 4.0]), realtime=False, linger=1.5)
    order_id = of(events, "queued")[0]["order_id"]
    undo = of(events, "cancelled")[0]
    assert undo["by"] == "button" and undo["order_id"] == order_id
    topic, cancel = cancels.wait_for(1)[0]
    assert topic == "reorder/v1/devices/kitchen-01/cancel"
    assert cancel["schema"] == "reorder.cancel/1" and cancel["order_id"] == order_id
    statuses = [(e["order_id"], e["status"]) for e in of(events, "status")]
    assert (order_id, "cancelled") in statuses
    assert store.order(order_id)["status"] == "cancelled"


def test_after_the_undo_window_a_press_is_push_to_talk_not_an_undo(device, store, speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 1.0)])
    d, events = device(clip, confirmation={"undo_seconds": 3})
    confirm_at = clip.end_of(3) + READBACK
    run_replay(d, PressPlan(short=[confirm_at, confirm_at + 6.0]), linger=1.0)
    assert of(events, "cancelled") == []
    assert [e["status"] for e in of(events, "status")] == ["accepted"]


@pytest.mark.parametrize("request_text, sections, reason", [
    ("order fifteen bottles of milk", {}, "over-max-quantity"),
    ("order three bottles of orange juice", {"confirmation": {"max_order_total": 5.0}}, "over-total-cap"),
])
def test_guards_refuse_out_loud_and_order_nothing(device, subscriber, mosquitto, speech_dir, request_text, sections,
                                                  reason):
    clip = Clip(speech_dir, [*hey(request_text), ("silence", 1.0)])
    orders = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    d, events = device(clip, **sections)
    run_replay(d, PressPlan(short=[clip.end_of(3) + READBACK]))
    rejected = of(events, "rejected")
    assert [r["reason"] for r in rejected] == [reason]
    assert of(events, "prompt") == [] and of(events, "confirmed") == []
    spoken = [e["text"] for e in of(events, "said")]
    assert spoken and "cannot order" in spoken[0]
    time.sleep(0.3)
    assert orders.messages == []


def test_daily_limit_and_repeat_guard(device, store, speech_dir):
    first = hey("order two bottles of milk")
    # each wake word after the device has said "Ordered." and the store's answer (it is deaf while it speaks)
    second = [("silence", 11.0), ("speech", "okay nabu"), ("silence", 0.7), ("speech", "order some milk")]
    third = [("silence", 16.0), ("speech", "okay nabu"), ("silence", 0.7), ("speech", "order a coffee")]
    clip = Clip(speech_dir, [*first, *second, *third, ("silence", 1.0)])
    d, events = device(clip, confirmation={"max_orders_per_day": 2, "repeat_guard": "ask", "undo_seconds": 3})
    t1 = clip.end_of(3) + READBACK
    t2 = clip.end_of(7) + READBACK + 1.5  # the repeat read-back is longer
    t3 = clip.end_of(11) + READBACK
    run_replay(d, PressPlan(short=[t1, t2, t2 + 3.0, t3]), linger=1.0)  # the second after "press again"
    prompts = of(events, "prompt")
    heard = [(e.get("text"), e.get("detail")) for e in events if e["event"] in ("transcript", "rejected")]
    assert len(prompts) == 2, heard
    assert "recently" in prompts[1]["text"] and "twice" in prompts[1]["text"]
    assert len(of(events, "queued")) == 2  # the repeat needed, and got, two presses
    assert [r["reason"] for r in of(events, "rejected")] == ["daily-limit"]


def bouncy(pin, down: bool):
    """A mechanical switch's edge: three edges 2 ms apart (gpiozero mock pin), ending down or up."""
    steps = [pin.drive_low, pin.drive_high, pin.drive_low] if down else [pin.drive_high, pin.drive_low,
                                                                          pin.drive_high]

    def act() -> None:
        for i, step in enumerate(steps):
            if i:
                time.sleep(0.002)
            step()
    return act


def bouncy_press(pin, at: float, held: float = 0.15) -> list:
    return [(at, bouncy(pin, True)), (at + held, bouncy(pin, False))]


def test_one_bouncy_press_confirms_once_and_a_press_right_after_does_not_undo(device, store, speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 1.0)])
    d, events = device(clip, confirmation={"undo_seconds": 5})
    pin = d.panel.confirm_button.pin
    at = clip.end_of(3) + READBACK
    run_replay(d, PressPlan(), actions=[*bouncy_press(pin, at), *bouncy_press(pin, at + 0.5)], linger=1.0)
    assert [e["by"] for e in of(events, "confirmed")] == ["button"]
    assert len(of(events, "queued")) == 1 and of(events, "cancelled") == []
    assert [e["why"] for e in of(events, "ignored")] == ["too soon after the confirmation to undo it"]
    assert [e["status"] for e in of(events, "status")] == ["accepted"]


def test_a_repeat_order_needs_a_second_press_after_press_again_was_said(device, store, speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 11.0), ("speech", "okay nabu"),
                             ("silence", 0.7), ("speech", "order two bottles of milk"), ("silence", 1.0)])
    d, events = device(clip, confirmation={"undo_seconds": 3})
    pin = d.panel.confirm_button.pin
    t1 = clip.end_of(3) + READBACK
    t2 = clip.end_of(7) + READBACK + 1.5  # the repeat read-back is longer
    # one bouncy press (once, not twice), a quick second press while "press again" is said, then a real one
    run_replay(d, PressPlan(short=[t1, t2 + 0.6, t2 + 3.0]), actions=bouncy_press(pin, t2), linger=1.0)
    assert len(of(events, "queued")) == 2
    said = [e for e in of(events, "said") if e["text"] == "Press again to order."]
    assert len(said) == 1
    assert [e["why"] for e in of(events, "ignored")] == ['before "press again" was said']
    second = of(events, "confirmed")[1]
    assert second["t"] >= said[0]["t"] + said[0]["seconds"]


def test_repeat_guard_refuse(device, store, speech_dir):
    # "order milk" alone comes out below min_confidence (0.80 here) with this recogniser and voice
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 11.0), ("speech", "okay nabu"),
                             ("silence", 0.7), ("speech", "order two bottles of milk"), ("silence", 1.0)])
    d, events = device(clip, confirmation={"repeat_guard": "refuse", "undo_seconds": 3})
    run_replay(d, PressPlan(short=[clip.end_of(3) + READBACK]))
    assert len(of(events, "queued")) == 1
    assert [r["reason"] for r in of(events, "rejected")] == ["repeat-guard"]


def test_a_tv_saying_the_words_never_orders(device, subscriber, mosquitto, speech_dir):
    """Wake word and request over and over, nobody presses: read-backs and time-outs, no order."""
    ad = [("speech", "okay nabu"), ("silence", 0.7), ("speech", "order three bottles of orange juice"),
          ("silence", 24.0)]
    clip = Clip(speech_dir, [("silence", 0.5), *ad, *ad, *ad])
    orders = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    d, events = device(clip)
    run_replay(d, PressPlan())
    assert len(of(events, "prompt")) == 3 and len(of(events, "timeout")) == 3
    assert of(events, "confirmed") == [] and of(events, "queued") == []
    time.sleep(0.3)
    assert orders.messages == []


def test_the_device_does_not_hear_itself_nor_restart_on_a_wake_during_the_prompt(device, speech_dir):
    # "okay nabu" said again during the read-back (half duplex) and again after it (refractory flow).
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 1.0), ("speech", "okay nabu"),
                             ("silence", 3.0), ("speech", "okay nabu"), ("silence", 2.0)])
    d, events = device(clip)
    run_replay(d, PressPlan())
    assert len(of(events, "wake")) == 1
    assert len(of(events, "prompt")) == 1 and of(events, "timeout")[0]["during"] == "confirmation"


def test_mute_closes_the_microphone_and_is_published(device, subscriber, mosquitto, speech_dir):
    clip = Clip(speech_dir, [("silence", 0.5), ("speech", "okay nabu"), ("silence", 0.7),
                             ("speech", "order two bottles of milk"), ("silence", 4.0)])
    states = subscriber(mosquitto.port, "reorder/v1/devices/+/state")
    d, events = device(clip, gpio={"mute_button": 27, "mute_is_switch": True})
    mute_pin = d.panel.mute_button.pin
    reads: dict[str, int] = {}

    def mute() -> None:
        mute_pin.drive_low()

    def check_and_unmute() -> None:
        reads["while_muted"] = d.source.frames_read
        reads["open_while_muted"] = d.source.is_open
        reads["red"] = d.panel.led.value
        mute_pin.drive_high()

    deadline = time.monotonic() + 10  # connected first: a state published before it would be dropped, not retained
    while not d.loop.delivery.connected and time.monotonic() < deadline:
        d.loop.drain()
        time.sleep(0.02)
    run_replay(d, PressPlan(), actions=[(0.2, mute), (clip.end_of(3) + 1.0, check_and_unmute)])
    # Muted from 0.2 s to after the request: the wake word and the request were never read.
    assert reads["open_while_muted"] is False
    assert reads["while_muted"] <= 4
    assert reads["red"] == (1.0, 0.0, 0.0)
    assert of(events, "wake") == [] and of(events, "transcript") == []
    states_seen = [e["state"] for e in of(events, "state")]
    assert states_seen.index("muted") < len(states_seen) - 1 and states_seen[states_seen.index("muted") + 1] in (
        "idle", "offline")
    muted_flags = [m["muted"] for _, m in states.wait_for(3)]
    assert True in muted_flags and muted_flags[-1] is False


@pytest.mark.parametrize("max_total, confirmed", [(20.0, True), (2.0, False)])
def test_voice_confirmation_when_enabled_but_never_above_its_amount(device, store, speech_dir, max_total, confirmed):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", READBACK + 0.5), ("speech", "yes"),
                             ("silence", 1.5)])
    d, events = device(clip, confirmation={"voice_confirmation": True, "voice_max_total": max_total})
    run_replay(d, PressPlan())
    if confirmed:
        assert [e["by"] for e in of(events, "confirmed")] == ["voice"] and len(of(events, "queued")) == 1
    else:
        assert of(events, "confirmed") == [] and of(events, "ignored")[0]["what"] == "voice"
        assert of(events, "timeout")


def test_voice_confirmation_is_off_by_default(device, speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", READBACK + 0.5), ("speech", "yes"),
                             ("silence", 1.5)])
    d, events = device(clip)
    run_replay(d, PressPlan())
    assert of(events, "confirmed") == [] and of(events, "timeout")


def test_the_led_counts_down_the_undo_window(device, store, speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 1.0)])
    d, events = device(clip, confirmation={"undo_seconds": 10})
    shown: list[tuple[float, Light]] = []
    real_show = d.panel.show

    def show(light: Light) -> None:  # the real gpiozero LED still shows it; we note when
        shown.append((d.loop.t, light))
        real_show(light)

    d.panel.show = show
    d.loop.light = d.panel
    confirm_at = clip.end_of(3) + READBACK
    run_replay(d, PressPlan(short=[confirm_at]))
    queued_at = of(events, "queued")[0]["t"]
    closing = [t for t, light in shown if light == PATTERNS["undo-closing"]]
    assert len(closing) == 1 and abs(closing[0] - (queued_at + 10 - 5)) < 0.2
    assert shown[-1][1] == PATTERNS["idle"] and shown[-1][0] >= queued_at + 10


def test_the_usual_reorders_the_last_accepted_order_after_a_read_back_and_a_press(device, store, subscriber,
                                                                                   mosquitto, speech_dir):
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 9.0), ("speech", "okay nabu"),
                             ("silence", 0.7), ("speech", "order the usual please"), ("silence", 1.0)])
    orders = subscriber(mosquitto.port, "reorder/v1/devices/+/orders")
    d, events = device(clip, confirmation={"undo_seconds": 3, "repeat_guard": "off"})
    t1 = clip.end_of(3) + READBACK
    t2 = clip.end_of(7) + READBACK + 1.0  # "Your usual order:" comes first
    run_replay(d, PressPlan(short=[t1, t2]), linger=1.5)
    heard = [(e.get("text"), e.get("detail")) for e in events if e["event"] in ("transcript", "rejected")]
    prompts = of(events, "prompt")
    assert len(prompts) == 2, heard
    assert prompts[1]["text"].startswith("Your usual order: 2 milk.")
    usual = of(events, "intent")[1]
    assert usual["action"] == "reorder" and usual["usual"] is True
    first, second = (m for _, m in orders.wait_for(2))
    assert first["items"] == second["items"] and first["order_id"] != second["order_id"]
    said = [e["text"] for e in of(events, "said")]
    assert said.count("Ordered.") == 2 and "The store accepted your order." in said


def test_saying_cancel_within_the_undo_window_undoes_the_order(device, store, speech_dir):
    # after the press the device says "Ordered." and the store's answer (it does not listen meanwhile)
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", READBACK + 6.0), ("speech", "okay nabu"),
                             ("silence", 0.7), ("speech", "cancel"), ("silence", 1.0)])
    d, events = device(clip, confirmation={"undo_seconds": 25})
    run_replay(d, PressPlan(short=[clip.end_of(3) + READBACK]), linger=1.5)
    order_id = of(events, "queued")[0]["order_id"]
    assert [(e["by"], e.get("order_id")) for e in of(events, "cancelled")] == [("voice", order_id)]
    assert store.order(order_id)["status"] == "cancelled"
