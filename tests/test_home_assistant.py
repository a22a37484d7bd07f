"""Home Assistant discovery on a real Mosquitto: the retained configs follow HA's documented MQTT schema,
their templates (rendered with Jinja2, as HA does) give HA the values it expects from the device's
own retained state and counters, and mute works as a switch that can carry nothing else.

The schema is HA's MQTT discovery documentation (home-assistant.io/integrations/mqtt, sensor.mqtt,
binary_sensor.mqtt, switch.mqtt), written down here: topic
`<discovery_prefix>/<component>/[<node_id>/]<object_id>/config` with ids of [a-zA-Z0-9_-]; a
`device` needs `identifiers` or `connections` and the entity a `unique_id`; `state_topic` is
required for sensors and binary sensors, `command_topic` for switches; `availability` entries need
a `topic`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import jinja2
import paho.mqtt.client as mqtt
import pytest

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build
from device.contract.topics import Topics
from device.runner import PressPlan, run_replay
from device.telemetry.discovery import discovery_messages
from tests import speech

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
DEVICE = "kitchen-01"
TOPICS = Topics("reorder/v1", DEVICE)
TOPIC = re.compile(r"homeassistant/(sensor|binary_sensor|switch)/([a-zA-Z0-9_-]+)/([a-zA-Z0-9_-]+)/config")
COMMON = {"name", "unique_id", "device", "origin", "availability", "availability_mode", "qos", "icon",
          "entity_category", "enabled_by_default", "json_attributes_topic", "json_attributes_template", "object_id",
          "default_entity_id", "encoding", "value_template", "state_topic"}
KEYS = {  # every key each component documents that we might use (a typo is not one of them)
    "sensor": COMMON | {"device_class", "unit_of_measurement", "state_class", "expire_after", "force_update",
                        "suggested_display_precision"},
    "binary_sensor": COMMON | {"device_class", "payload_on", "payload_off", "expire_after", "force_update",
                               "off_delay"},
    "switch": COMMON | {"command_topic", "command_template", "device_class", "payload_on", "payload_off",
                        "state_on", "state_off", "optimistic", "retain"},
}
REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"}, "switch": {"command_topic"}}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
               "hw_version", "serial_number", "suggested_area", "configuration_url", "via_device"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
UNITS = {"duration": {"d", "h", "min", "s", "ms"}, "data_size": {"B", "kB", "MB", "GB", "KiB", "MiB", "GiB"},
         "timestamp": {None}, None: {None, "orders"}}
JINJA = jinja2.Environment()


class Retained:
    """Everything retained under some topics, as a new HA instance would read it on subscribing."""

    def __init__(self, port: int, *topics: str, wait: float = 1.5) -> None:
        self.messages: dict[str, bytes] = {}
        done = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ha-{uuid.uuid4().hex[:8]}")
        client.on_message = lambda c, u, m: self.messages.__setitem__(m.topic, bytes(m.payload))
        client.on_subscribe = lambda *a: done.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.subscribe([(t, 1) for t in topics])
        assert done.wait(5)
        time.sleep(wait)
        client.disconnect()
        client.loop_stop()

    def json(self, topic: str) -> dict:
        return json.loads(self.messages[topic])


def publish(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ha-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def render(template: str, payload: dict) -> str:
    return JINJA.from_string(template).render(value_json=payload).strip()


@pytest.fixture
def device(tmp_path, mosquitto, speech_dir):
    """make(**sections) → a running device (HA discovery on its own broker) that heard 1.5 s of silence."""
    made = []

    def make(**sections):
        data = {"device": {"id": DEVICE}, "gpio": {"pin_factory": "mock"}, "mqtt": {"broker": mosquitto.url},
                "recognizer": {"engine": "pocketsphinx"}, "home_assistant": {"enabled": True},
                "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": str(CATALOG)}}
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        d = build(config.from_mapping(data, "test"), WavSource(speech.silence(speech_dir, 1.5)), lambda e: None,
                  play_audio=False)
        made.append(d)
        assert wait_until(lambda: d.loop.state.value == "idle", d), "the device never connected"
        run_replay(d, PressPlan())
        return d

    yield make
    for d in made:
        d.close()


def check_config(topic: str, body: dict) -> str:
    """HA's documented schema for one discovery message; returns its component."""
    match = TOPIC.fullmatch(topic)
    assert match, topic
    component, node, _ = match.groups()
    assert node == DEVICE
    assert set(body) <= KEYS[component], (topic, set(body) - KEYS[component])
    assert REQUIRED[component] <= set(body), topic
    assert isinstance(body["unique_id"], str) and body["unique_id"]
    device = body["device"]
    assert set(device) <= DEVICE_KEYS and (device.get("identifiers") or device.get("connections")), device
    assert isinstance(device["identifiers"], list) and all(isinstance(i, str) for i in device["identifiers"])
    assert "availability" not in body or "availability_topic" not in body
    for entry in body.get("availability", []):
        assert set(entry) <= {"topic", "payload_available", "payload_not_available", "value_template"}
        assert entry["topic"] == TOPICS.state
    assert body.get("state_class") in STATE_CLASSES | {None}
    assert body.get("entity_category") in {"diagnostic", "config", None}
    if component == "sensor":
        assert body.get("unit_of_measurement") in UNITS[body.get("device_class")], body
    if component == "binary_sensor":
        assert body.get("device_class") in {None, "connectivity"}
    for key, value in body.items():
        if key.endswith("_topic"):
            assert isinstance(value, str) and "#" not in value and "+" not in value, (key, value)
    return component


def check_values(component: str, body: dict, payloads: dict[str, dict]) -> None:
    """What HA would show: each template on the device's own retained message gives a value HA accepts."""
    value = render(body["value_template"], payloads[body["state_topic"]])
    if component == "binary_sensor":
        assert value in (body["payload_on"], body["payload_off"]), (body["name"], value)
    elif component == "switch":
        assert value in (body["state_on"], body["state_off"]), (body["name"], value)
    elif body.get("device_class") == "timestamp":
        assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    elif body.get("state_class"):
        assert value == "None" or float(value) >= 0, (body["name"], value)  # "None": HA's unknown
    elif body["value_template"].endswith("last_order_status }}"):
        assert value in ("None", "accepted", "rejected", "duplicate", "cancelled"), value  # "None" before any order
    else:
        assert value and value != "None", (body["name"], value)
    if "json_attributes_template" in body:
        attributes = json.loads(render(body["json_attributes_template"], payloads[body["json_attributes_topic"]]))
        assert isinstance(attributes, dict)
    for entry in body.get("availability", []):
        assert render(entry["value_template"], payloads[entry["topic"]]) in (entry["payload_available"],
                                                                            entry["payload_not_available"])


def test_discovery_configs_follow_home_assistants_schema_and_read_the_devices_own_messages(device, mosquitto):
    d = device(home_assistant={"mute_command": True})
    seen = Retained(mosquitto.port, "homeassistant/#", TOPICS.state, TOPICS.stats)
    configs = {t: json.loads(p) for t, p in seen.messages.items() if t.startswith("homeassistant/")}
    expected = discovery_messages(TOPICS, "homeassistant", mute_command=True)
    assert configs == {t: p for t, p in expected}  # all of them, retained
    payloads = {TOPICS.state: seen.json(TOPICS.state), TOPICS.stats: seen.json(TOPICS.stats)}
    components = [check_config(t, body) for t, body in configs.items()]
    assert components.count("switch") == 1 and "binary_sensor" in components
    unique = [body["unique_id"] for body in configs.values()]
    assert len(unique) == len(set(unique))
    assert len({json.dumps(body["device"], sort_keys=True) for body in configs.values()}) == 1  # one device
    for topic, body in configs.items():
        check_values(TOPIC.fullmatch(topic).group(1), body, payloads)

    online = configs[f"homeassistant/binary_sensor/{DEVICE}/online/config"]
    assert "availability" not in online and online["device_class"] == "connectivity"
    assert render(online["value_template"], payloads[TOPICS.state]) == "ON"
    mute = configs[f"homeassistant/switch/{DEVICE}/mute/config"]
    assert mute["command_topic"] == TOPICS.mute and render(mute["value_template"], payloads[TOPICS.state]) == "OFF"
    wakes = configs[f"homeassistant/sensor/{DEVICE}/wakes/config"]
    assert render(wakes["value_template"], payloads[TOPICS.stats]) == "0"

    d.close()  # the last words: offline, so every entity but "online" becomes unavailable
    offline = Retained(mosquitto.port, TOPICS.state, wait=0.5).json(TOPICS.state)
    assert render(online["value_template"], offline) == "OFF"
    assert all(render(entry["value_template"], offline) == "offline"
               for body in configs.values() for entry in body.get("availability", []))


def test_without_a_mute_command_mute_is_only_shown(device, mosquitto):
    device()
    seen = Retained(mosquitto.port, "homeassistant/#")
    assert not [t for t in seen.messages if t.startswith("homeassistant/switch/")]
    assert f"homeassistant/binary_sensor/{DEVICE}/muted/config" in seen.messages


def wait_until(check, device, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        device.loop.drain()
        if check():
            return True
        time.sleep(0.02)
    return False


def test_the_mute_switch_mutes_and_unmutes_and_carries_nothing_else(device, mosquitto, subscriber):
    d = device(home_assistant={"mute_command": True})
    orders = subscriber(mosquitto.port, "reorder/v1/devices/+/orders", "reorder/v1/devices/+/cancel")
    publish(mosquitto.port, TOPICS.mute, b"ON")
    assert wait_until(lambda: d.loop.muted, d)
    assert wait_until(lambda: Retained(mosquitto.port, TOPICS.state, wait=0.2).json(TOPICS.state)["muted"], d)
    order = {"schema": "reorder.order/1", "order_id": "forged", "device_id": DEVICE, "created_at": "x",
             "items": [{"sku": "MILK-1L", "quantity": 2, "unit_price": 1.15}], "total": 2.3, "currency": "EUR"}
    for payload in (json.dumps(order).encode(), b"reorder milk", b"", b"TOGGLE"):
        publish(mosquitto.port, TOPICS.mute, payload)
    publish(mosquitto.port, TOPICS.mute, b"OFF")
    assert wait_until(lambda: not d.loop.muted, d)
    d.loop.drain()
    assert d.loop.outbox.depth() == 0 and d.loop.session.pending is None
    time.sleep(0.3)
    assert orders.messages == []


def test_a_closed_mute_switch_wins_over_an_unmute_command(device, mosquitto):
    d = device(home_assistant={"mute_command": True}, gpio={"mute_button": 27, "mute_is_switch": True})
    d.panel.mute_button.pin.drive_low()  # the switch is closed: muted by hand
    assert wait_until(lambda: d.loop.muted, d)
    publish(mosquitto.port, TOPICS.mute, b"OFF")
    time.sleep(0.5)
    assert not wait_until(lambda: not d.loop.muted, d, timeout=1.0)
    d.panel.mute_button.pin.drive_high()
    assert wait_until(lambda: not d.loop.muted, d)


def test_the_mute_topic_is_not_heard_unless_asked_for(device, mosquitto):
    d = device()
    publish(mosquitto.port, TOPICS.mute, b"ON")
    assert not wait_until(lambda: d.loop.muted, d, timeout=1.0)


def test_a_household_broker_hears_the_device_while_the_stores_is_down_and_carries_mute(tmp_path, speech_dir):
    from tests.conftest import Mosquitto, free_port

    household = Mosquitto(tmp_path / "household").start()
    dead = f"mqtt://127.0.0.1:{free_port()}"  # the store's broker is down all along
    data = {"device": {"id": DEVICE}, "gpio": {"pin_factory": "mock"}, "mqtt": {"broker": dead},
            "recognizer": {"engine": "pocketsphinx"},
            "home_assistant": {"enabled": True, "broker": household.url, "mute_command": True},
            "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog": str(CATALOG)}}
    d = build(config.from_mapping(data, "test"), WavSource(speech.silence(speech_dir, 1.0)), lambda e: None,
              play_audio=False)
    try:
        assert wait_until(lambda: d.mirror.link.connected, d)
        time.sleep(0.3)
        seen = Retained(household.port, "#")
        assert seen.json(TOPICS.state)["online"] is True and seen.json(TOPICS.stats)["schema"] == "reorder.stats/1"
        assert f"homeassistant/switch/{DEVICE}/mute/config" in seen.messages
        publish(household.port, TOPICS.mute, b"ON")
        assert wait_until(lambda: d.loop.muted, d)
        assert wait_until(lambda: Retained(household.port, TOPICS.state, wait=0.2).json(TOPICS.state)["muted"], d)
        assert d.loop.state.value == "muted" and not d.loop.delivery.connected
    finally:
        d.close(flush_seconds=0.1)
        household.stop()
