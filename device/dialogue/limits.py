"""Purchase guards on the device: limits that hold even if the store would accept the order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from device.contract.catalogue import Catalogue
from device.dialogue.readback import total_of
from device.events import IntentItem


class OrderHistory(Protocol):
    """Past orders, for the daily limit and the repeat guard (the outbox implements it)."""

    def orders_since(self, since: datetime) -> int:
        """Orders confirmed at or after `since` (not undone)."""

    def skus_since(self, since: datetime) -> set[str]:
        """SKUs of orders confirmed at or after `since` (not undone)."""


@dataclass(frozen=True)
class Limits:
    """The household's limits (from [confirmation] in the config)."""

    max_order_total: Decimal = Decimal("0")
    max_orders_per_day: int = 0
    repeat_guard_hours: float = 0.0
    repeat_guard: str = "ask"


@dataclass(frozen=True)
class Verdict:
    """A refusal reason (CONTRACT §4 `rejected`), or the SKUs that need a second press, or neither."""

    reason: str | None = None
    detail: str = ""
    repeated: tuple[str, ...] = ()


def check(items: tuple[IntentItem, ...], catalogue: Catalogue, limits: Limits, history: OrderHistory,
          now: datetime) -> Verdict:
    """Apply every guard in order of severity; the first refusal wins."""
    for item in items:
        entry = catalogue.item(item.sku)
        if entry is None:
            return Verdict("not-in-catalog", item.sku)
        if item.quantity < 1 or item.quantity > entry.max_quantity:
            return Verdict("over-max-quantity", f"{item.sku}: {item.quantity} > {entry.max_quantity}")
    total = total_of(items, catalogue)
    if limits.max_order_total and total > limits.max_order_total:
        return Verdict("over-total-cap", f"{total} > {limits.max_order_total}")
    if limits.max_orders_per_day and history.orders_since(now - timedelta(days=1)) >= limits.max_orders_per_day:
        return Verdict("daily-limit", f"{limits.max_orders_per_day} orders in 24 hours")
    if limits.repeat_guard != "off" and limits.repeat_guard_hours:
        recent = history.skus_since(now - timedelta(hours=limits.repeat_guard_hours))
        repeated = tuple(i.sku for i in items if i.sku in recent)
        if repeated and limits.repeat_guard == "refuse":
            return Verdict("repeat-guard", ", ".join(repeated))
        if repeated:
            return Verdict(repeated=repeated)
    return Verdict()
