"""The store's checks of an order against the device's catalogue; each failure is one reason word."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from device.contract import schemas
from device.contract.catalogue import Catalogue

CENT = Decimal("0.01")

INVALID = "invalid-order"
"""The payload is not a `reorder.order/1` of the device whose topic carried it."""


def as_decimal(value: Any) -> Decimal:
    """A JSON number as the decimal the sender wrote (1.15 stays 1.15)."""
    return Decimal(str(value))


def invalid_reason(order: Any, topic_device: str) -> str | None:
    """Why a decoded payload is not a valid order from `topic_device` (one line), or None."""
    wrong = schemas.problem(order, schemas.ORDER)
    if wrong:
        return wrong
    if "\x00" in order["order_id"]:  # PostgreSQL text cannot hold it: the order could never be stored
        return "order_id contains a NUL character"
    if order["device_id"] != topic_device:
        return f"device_id {order['device_id']!r} does not match the topic's device {topic_device!r}"
    return None


def rejection(order: dict[str, Any], catalogue: Catalogue | None) -> str | None:
    """The reason a valid order is refused, or None when the store accepts it.

    Reasons: currency-mismatch, not-in-catalog, price-mismatch, over-max-quantity (the quantities
    of one SKU added up), total-mismatch (total != sum of quantity x unit_price, to the cent).
    """
    if catalogue is None:
        return "not-in-catalog"
    if order["currency"] != catalogue.currency:
        return "currency-mismatch"
    quantities: dict[str, int] = {}
    expected = Decimal(0)
    for line in order["items"]:
        item = catalogue.item(line["sku"])
        if item is None:
            return "not-in-catalog"
        if as_decimal(line["unit_price"]) != item.unit_price:
            return "price-mismatch"
        quantities[item.sku] = quantities.get(item.sku, 0) + line["quantity"]
        if quantities[item.sku] > item.max_quantity:
            return "over-max-quantity"
        expected += item.unit_price * line["quantity"]
    if as_decimal(order["total"]) != expected.quantize(CENT, rounding=ROUND_HALF_UP):
        return "total-mismatch"
    return None
