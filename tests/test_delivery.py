"""stages.delivery: what goes to the broker, and under which device id."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from device.contract.catalogue import Catalogue
from device.contract.topics import Topics
from device.events import IntentItem
from device.fakes import RecordingPublisher
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from device.orders.payload import build_order

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"


def an_order(device_id: str) -> dict:
    catalogue = Catalogue.load(CATALOG)
    return build_order((IntentItem("MILK-1L", 1),), catalogue, device_id, "en-US", "button", datetime.now(timezone.utc))


def test_an_outbox_never_publishes_an_order_under_another_devices_id(tmp_path, caplog):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    theirs, acked_theirs, mine = an_order("kitchen-01"), an_order("kitchen-01"), an_order("hall-02")
    outbox.add(theirs)
    outbox.add(acked_theirs)
    outbox.mark_sent(acked_theirs["order_id"])  # acknowledged, never answered: normally sent again on connect
    publisher = RecordingPublisher()
    delivery = Delivery(outbox, publisher, Topics("reorder/v1", "hall-02"))
    delivery.connection_up()
    delivery.submit(mine)
    assert publisher.sent == [("reorder/v1/devices/hall-02/orders", mine, False)]
    # theirs is kept, never sent, never dropped (mine waits for its PUBACK, which this publisher never gives)
    assert [o["order_id"] for o in outbox.pending()] == [theirs["order_id"], mine["order_id"]]
    assert "device kitchen-01" in caplog.text and "hall-02" in caplog.text
    delivery.connection_down()
    delivery.connection_up()  # and not on a reconnect either
    assert [t for t, _, _ in publisher.sent] == ["reorder/v1/devices/hall-02/orders"]
    outbox.close()
