"""The order payload of CONTRACT §2: SKUs, quantities and prices only — no audio, no transcript."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from device.contract.catalogue import Catalogue
from device.dialogue.readback import total_of
from device.events import IntentItem


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with a Z ("2026-11-22T13:00:00Z")."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_order(items: tuple[IntentItem, ...], catalogue: Catalogue, device_id: str, locale: str,
                confirmed_by: str, now: datetime, order_id: str | None = None) -> dict[str, Any]:
    """A `reorder.order/1` object; order_id (the idempotency key) is made here, once, at confirmation."""
    lines = []
    for item in items:
        entry = catalogue.item(item.sku)
        assert entry is not None, "guards run before an order is built"
        lines.append({"sku": item.sku, "quantity": item.quantity, "unit_price": float(entry.unit_price)})
    return {
        "schema": "reorder.order/1",
        "order_id": order_id or str(uuid.uuid4()),
        "device_id": device_id,
        "created_at": iso(now),
        "locale": locale,
        "catalog_version": catalogue.version,
        "items": lines,
        "total": float(total_of(items, catalogue)),
        "currency": catalogue.currency,
        "confirmed_by": confirmed_by,
    }
