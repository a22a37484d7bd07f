"""Home Assistant MQTT discovery: the retained `config` messages that make the device appear in HA.

One HA device per speaker, its entities read the retained `state` and `stats` topics (no other
topic is ever published for HA). Topics follow HA's per-entity scheme,
`{discovery_prefix}/{component}/{device_id}/{object_id}/config`, where node and object ids use
only [a-zA-Z0-9_-] (device ids already do). Every entity has a `unique_id` (HA needs one to
attach it to the `device`), and all but the online sensor are unavailable while the state says
offline: the last will does that when the device vanishes. A value the device does not know yet
(no order, no decode) is JSON null, which the templates render as "None": HA shows it as unknown.
"""

from __future__ import annotations

from typing import Any

from device import firmware
from device.contract.topics import Topics

AVAILABLE = "{{ 'online' if value_json.online else 'offline' }}"

# object_id, name, value in the stats message (since install), extra keys
COUNTER_SENSORS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("wakes", "Wakes", "since_install.wakes", {"icon": "mdi:account-voice"}),
    ("requests", "Requests heard", "since_install.requests", {"icon": "mdi:microphone-message"}),
    ("false_wakes", "False wakes (estimate)", "since_install.false_wakes", {"entity_category": "diagnostic"}),
    ("refusals", "Refusals", "since_install.refusals", {"json_attributes": "since_install.refusals_by_reason"}),
    ("readbacks", "Read-backs", "since_install.readbacks", {}),
    ("confirmations", "Confirmations", "since_install.confirmations", {}),
    ("cancellations", "Cancellations", "since_install.cancellations", {}),
    ("timeouts", "Read-backs timed out", "since_install.timeouts", {}),
    ("orders_accepted", "Orders accepted", "since_install.store_accepted", {"icon": "mdi:cart-check"}),
    ("orders_rejected", "Orders rejected", "since_install.store_rejected", {"icon": "mdi:cart-remove"}),
)


def device_block(device_id: str) -> dict[str, Any]:
    """HA's `device` block: one device per speaker."""
    return {"identifiers": [f"reorder-{device_id}"], "name": f"Reorder {device_id}", "manufacturer": "reorder",
            "model": "Voice re-order speaker", "sw_version": firmware()}


def _entity(topics: Topics, object_id: str, name: str, state_topic: str, template: str,
            available: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": name, "unique_id": f"reorder_{topics.device_id}_{object_id}", "state_topic": state_topic,
        "value_template": template, "device": device_block(topics.device_id),
        "origin": {"name": "reorder", "sw_version": firmware()}, "qos": 1}
    if available:
        config["availability"] = [{"topic": topics.state, "value_template": AVAILABLE,
                                   "payload_available": "online", "payload_not_available": "offline"}]
    return config


def _stat(path: str) -> str:
    return "{{ value_json." + path + " }}"


def discovery_messages(topics: Topics, discovery_prefix: str = "homeassistant",
                       mute_command: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """(topic, payload) of every discovery config; publish each retained (an empty payload would remove it)."""
    d = topics.device_id

    def topic(component: str, object_id: str) -> str:
        return f"{discovery_prefix}/{component}/{d}/{object_id}/config"

    out: list[tuple[str, dict[str, Any]]] = []
    online = _entity(topics, "online", "Online", topics.state,
                     "{{ 'ON' if value_json.online else 'OFF' }}", available=False)
    online.update(device_class="connectivity", payload_on="ON", payload_off="OFF")
    out.append((topic("binary_sensor", "online"), online))

    status = _entity(topics, "status", "Status", topics.state,
                     "{{ 'muted' if value_json.muted else ('orders waiting' if value_json.outbox_depth else "
                     "'ready') }}")
    status["icon"] = "mdi:speaker-message"
    out.append((topic("sensor", "status"), status))

    depth = _entity(topics, "outbox_depth", "Orders waiting to be sent", topics.state, _stat("outbox_depth"))
    depth.update(state_class="measurement", icon="mdi:tray-full")
    out.append((topic("sensor", "outbox_depth"), depth))

    if mute_command:
        mute = _entity(topics, "mute", "Microphone muted", topics.state,
                       "{{ 'ON' if value_json.muted else 'OFF' }}")
        mute.update(command_topic=topics.mute, payload_on="ON", payload_off="OFF", state_on="ON", state_off="OFF",
                    icon="mdi:microphone-off")
        out.append((topic("switch", "mute"), mute))
    else:
        muted = _entity(topics, "muted", "Microphone muted", topics.state,
                        "{{ 'ON' if value_json.muted else 'OFF' }}")
        muted.update(payload_on="ON", payload_off="OFF", icon="mdi:microphone-off")
        out.append((topic("binary_sensor", "muted"), muted))

    last = _entity(topics, "last_order_status", "Last order", topics.stats, _stat("last_order_status"))
    last["icon"] = "mdi:receipt-text-check"
    out.append((topic("sensor", "last_order_status"), last))

    for object_id, name, path, extra in COUNTER_SENSORS:
        sensor = _entity(topics, object_id, name, topics.stats, _stat(path))
        sensor["state_class"] = "total_increasing"
        attributes = extra.get("json_attributes")
        if attributes:
            sensor.update(json_attributes_topic=topics.stats, json_attributes_template="{{ value_json."
                          + attributes + " | tojson }}")
        sensor.update({k: v for k, v in extra.items() if k != "json_attributes"})
        out.append((topic("sensor", object_id), sensor))

    diagnostics = (
        ("recognizer", "Recogniser", "{{ value_json.recognizer }}", {"icon": "mdi:text-recognition"}),
        ("decode_ms", "Mean decode time", "{{ value_json.since_boot.mean_decode_ms }}",
         {"unit_of_measurement": "ms", "device_class": "duration", "state_class": "measurement"}),
        ("booted_at", "Started", "{{ value_json.booted_at }}", {"device_class": "timestamp"}),
        ("outbox_free", "Free disk for the outbox", "{{ value_json.outbox_free_bytes }}",
         {"unit_of_measurement": "B", "device_class": "data_size", "state_class": "measurement"}),
    )
    for object_id, name, template, extra in diagnostics:
        sensor = _entity(topics, object_id, name, topics.stats, template)
        sensor.update(entity_category="diagnostic", **extra)
        out.append((topic("sensor", object_id), sensor))
    return out
