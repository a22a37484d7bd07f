"""The live catalogue and refusals, through the whole loop with real engines and a real broker."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build
from device.contract.catalogue import Catalogue
from device.runner import PressPlan, run_replay
from tests.test_confirmation import CATALOG, READBACK, Clip, hey, of

pytestmark = pytest.mark.slow


def publish(port: int, topic: str, payload: dict | bytes, retain: bool = True) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    data = payload if isinstance(payload, bytes) else json.dumps(payload)
    client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def make(tmp_path, mosquitto, clip, catalog: str = "", **extra):
    data = {"device": {"id": "hall"}, "gpio": {"pin_factory": "mock"}, "mqtt": {"broker": mosquitto.url},
            "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": catalog,
                        "catalog_cache": str(tmp_path / "catalog-cache.json")}}
    for section, values in extra.items():
        data.setdefault(section, {}).update(values)
    events: list[dict] = []
    device = build(config.from_mapping(data, "test"), WavSource(clip.path), lambda e: events.append(e.to_dict()),
                   play_audio=False)
    return device, events


def test_a_new_retained_catalogue_rebuilds_the_grammar_without_a_restart(tmp_path, mosquitto, speech_dir):
    v1 = Catalogue.load(CATALOG).to_payload()
    publish(mosquitto.port, "reorder/v1/devices/hall/catalog", v1)
    v2 = json.loads(json.dumps(v1))
    v2["version"] = 2
    v2["items"].append({"sku": "HONEY-250G", "names": {"en": ["honey"], "fr": ["miel"]}, "unit_price": 4.2,
                        "max_quantity": 3})
    # Before v2, "honey" cannot be heard (it may come out as another item, then time out unpressed).
    clip = Clip(speech_dir, [*hey("order two jars of honey"), ("silence", 24.0), ("speech", "okay nabu"),
                             ("silence", 0.7), ("speech", "order two jars of honey"), ("silence", 1.0)])
    device, events = make(tmp_path, mosquitto, clip)
    try:
        new_catalogue = (clip.end_of(3) + 2.0, lambda: publish(mosquitto.port, "reorder/v1/devices/hall/catalog", v2))
        run_replay(device, PressPlan(), actions=[new_catalogue])
    finally:
        device.close()
    intents = of(events, "intent")
    assert len(intents) == 2
    assert intents[0]["action"] != "reorder" or intents[0]["items"][0]["sku"] != "HONEY-250G"
    assert intents[1]["action"] == "reorder" and intents[1]["items"] == [
        {"sku": "HONEY-250G", "quantity": 2, "heard": "honey"}]
    # The last good catalogue is kept for an offline reboot.
    assert json.loads((tmp_path / "catalog-cache.json").read_text())["version"] == 2


def test_a_bad_catalogue_message_is_ignored_and_the_previous_one_stays(tmp_path, mosquitto, speech_dir, caplog):
    publish(mosquitto.port, "reorder/v1/devices/hall/catalog", Catalogue.load(CATALOG).to_payload())
    clip = Clip(speech_dir, [("silence", 1.0), *hey("order two bottles of milk"), ("silence", 1.0)])
    device, events = make(tmp_path, mosquitto, clip)
    try:
        junk = [(0.3, lambda: publish(mosquitto.port, "reorder/v1/devices/hall/catalog", b"{not json")),
                (0.6, lambda: publish(mosquitto.port, "reorder/v1/devices/hall/catalog",
                                      {"schema": "reorder.catalog/1", "version": "x"}))]
        run_replay(device, PressPlan(), actions=junk)
    finally:
        device.close()
    assert of(events, "prompt") and of(events, "error") == []
    assert device.loop.catalogue.version == 1
    assert any("ignored" in r.message for r in caplog.records)


def test_the_cached_catalogue_serves_an_offline_reboot(tmp_path, mosquitto, speech_dir):
    (tmp_path / "catalog-cache.json").write_text(json.dumps(Catalogue.load(CATALOG).to_payload()))
    mosquitto.stop()  # no broker at all: the device still understands and queues
    clip = Clip(speech_dir, [*hey("order two bottles of milk"), ("silence", 1.0)])
    device, events = make(tmp_path, mosquitto, clip)
    try:
        run_replay(device, PressPlan(short=[clip.end_of(3) + READBACK]))
    finally:
        device.close()
    assert of(events, "queued") and of(events, "published") == []
    assert len(of(events, "queued")) == 1


def test_speech_that_is_not_a_request_is_refused_not_guessed(tmp_path, mosquitto, speech_dir):
    clip = Clip(speech_dir, [*hey("what is the weather like today"), ("silence", 1.0)])
    device, events = make(tmp_path, mosquitto, clip, catalog=str(CATALOG))
    try:
        run_replay(device, PressPlan(short=[clip.end_of(3) + READBACK]))
    finally:
        device.close()
    assert of(events, "prompt") == [] and of(events, "confirmed") == []
    assert [r["reason"] for r in of(events, "rejected")] == ["low-confidence"]


def test_push_to_talk_then_a_request(tmp_path, mosquitto, speech_dir):
    clip = Clip(speech_dir, [("silence", 1.0), ("speech", "order two bottles of milk"), ("silence", 1.0)])
    device, events = make(tmp_path, mosquitto, clip, catalog=str(CATALOG))
    try:
        run_replay(device, PressPlan(short=[0.3]))
    finally:
        device.close()
    assert of(events, "wake") == []
    assert of(events, "intent")[0]["items"] == [{"sku": "MILK-1L", "quantity": 2, "heard": "milk"}]
    assert of(events, "prompt")
