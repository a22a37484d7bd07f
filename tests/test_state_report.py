"""stages.state_report: the retained reorder.state/1 message, built and published in one place."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from device import firmware
from device.contract import schemas
from device.contract.topics import Topics
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from device.telemetry.state_report import StateReport, state_payload


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, bool]] = []

    def publish(self, topic: str, payload: dict, retain: bool = False) -> int:
        self.sent.append((topic, payload, retain))
        return len(self.sent)


def test_the_payload_follows_the_contract():
    payload = state_payload(online=False, outbox_depth=3, muted=True, since="2026-11-22T13:00:00Z")
    assert payload == {"schema": "reorder.state/1", "online": False, "firmware": firmware(), "outbox_depth": 3,
                       "muted": True, "since": "2026-11-22T13:00:00Z"}
    assert schemas.problem(payload, schemas.STATE) is None


def test_published_retained_only_while_connected_with_since_the_last_connection_change(tmp_path):
    clock = [datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)]
    publisher, topics = Publisher(), Topics("reorder/v1", "hall")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        delivery = Delivery(outbox, publisher, topics)
        report = StateReport(delivery, topics.state, lambda: clock[0])
        report.publish(muted=False)
        assert publisher.sent == []  # offline: the last will speaks for the device
        delivery.connected = True
        clock[0] += timedelta(minutes=5)
        report.connection_changed()
        report.publish(muted=True)
        [(topic, payload, retain)] = publisher.sent
        assert topic == topics.state and retain
        assert payload["online"] and payload["muted"] and payload["since"] == "2026-11-22T13:05:00Z"
        assert report.payload(muted=False, online=False)["online"] is False
    finally:
        outbox.close()
