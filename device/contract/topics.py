"""MQTT topic names of CONTRACT §2, in one place for the device and the store backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """The topics of one device (or, with device_id "+", of every device)."""

    prefix: str
    device_id: str

    def _t(self, leaf: str) -> str:
        return f"{self.prefix}/devices/{self.device_id}/{leaf}"

    @property
    def orders(self) -> str:
        """device → store: confirmed orders (QoS 1, not retained)."""
        return self._t("orders")

    @property
    def order_status(self) -> str:
        """store → device: the store's answer to an order."""
        return self._t("order-status")

    @property
    def cancel(self) -> str:
        """device → store: undo within the undo window."""
        return self._t("cancel")

    @property
    def catalog(self) -> str:
        """store → device: the retained catalogue."""
        return self._t("catalog")

    @property
    def state(self) -> str:
        """device → store: retained online/outbox/mute state, also the last will."""
        return self._t("state")

    @property
    def stats(self) -> str:
        """device → store (and Home Assistant): retained counters, never a word heard."""
        return self._t("stats")

    @property
    def mute(self) -> str:
        """Home Assistant → device: "ON" mutes, "OFF" unmutes (only with [home_assistant] mute_command)."""
        return self._t("mute")


def device_id_of(topic: str, prefix: str) -> str | None:
    """The device id in `{prefix}/devices/{id}/...`, or None if the topic is not of that form."""
    head = f"{prefix}/devices/"
    if not topic.startswith(head):
        return None
    rest = topic[len(head):].split("/")
    return rest[0] if len(rest) == 2 and rest[0] else None
