"""What reaches the loop from other threads (gpiozero, paho): small frozen records put on its inbox.

Broker messages arrive decoded and checked (adapters.mqtt): the loop only ever sees a valid
`CatalogueArrived` or `OrderStatus`, never bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.contract.catalogue import Catalogue


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
class CatalogueArrived:
    """A valid `reorder.catalog/1` arrived on the device's catalogue topic."""

    catalogue: Catalogue


@dataclass(frozen=True)
class OrderStatus:
    """A valid `reorder.order-status/1`: the store's answer about one order (perhaps not this device's)."""

    order_id: str
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class Message:
    """A message arrived on a subscribed topic, raw (tools such as the doctor read these; the device's
    MqttLink decodes its own topics into the records above instead)."""

    topic: str
    payload: bytes
