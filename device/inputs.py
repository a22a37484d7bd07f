"""What reaches the loop from other threads (gpiozero, paho): small frozen records put on its inbox."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ButtonEdge:
    """The confirm button went down (pressed=True) or up."""

    pressed: bool


@dataclass(frozen=True)
class MuteChanged:
    """The mute switch or button asks for this mute state."""

    muted: bool


@dataclass(frozen=True)
class BrokerUp:
    """The MQTT connection is (re)established and subscribed."""


@dataclass(frozen=True)
class BrokerDown:
    """The MQTT connection was lost."""

    reason: str


@dataclass(frozen=True)
class Acked:
    """The broker acknowledged (PUBACK, success) the publish with this id: the never-reused id
    MqttLink.publish returned, not the 16-bit MQTT packet id paho recycles."""

    mid: int


@dataclass(frozen=True)
class Message:
    """A message arrived on a subscribed topic (raw bytes: validated by the loop)."""

    topic: str
    payload: bytes
