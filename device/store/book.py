"""What the store backend needs from its order book, and the book chosen from `--db`.

Two implementations keep the same tables and give the same answers: db.py (a SQLite file, shared
by the instances on one machine) and pg.py (a PostgreSQL database, shared by instances anywhere).
`--db postgresql://...` (or `postgres://...`) picks PostgreSQL; anything else is a SQLite path.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from device.store.db import CancelOutcome, OrderBook, Recorded

URL_SCHEMES = ("postgresql://", "postgres://")


class Book(Protocol):
    """An order book: orders applied once per order_id, cancels, catalogues; safe from several threads."""

    where: str
    """The database, as logs show it (a path, or a URL without its password)."""
    errors: tuple[type[BaseException], ...]
    """What a call raises when the database could not do it (the message is then not acknowledged)."""
    workers: int
    """How many messages are best handled at once (each thread then uses a connection of its own)."""

    def record_order(
        self, order_id: str, device_id: str, payload: str, status: str, reason: str | None, now: datetime
    ) -> Recorded:
        """Apply an order unless its order_id is already in the book (one transaction); say what it holds."""
        ...

    def cancel(self, order_id: str, device_id: str, payload: str, now: datetime, window: float) -> CancelOutcome:
        """Cancel an accepted order of this device applied at most `window` seconds before `now`."""
        ...

    def save_catalogue(self, device_id: str, payload: str, now: datetime) -> None:
        """Store (or replace) a device's own catalogue."""
        ...

    def catalogue(self, device_id: str) -> str | None:
        """A device's own catalogue JSON, or None when it uses the default."""
        ...

    def order(self, order_id: str) -> dict[str, Any] | None:
        """One order's row (order_id, device_id, payload, status, reason, applied_at as ISO-8601), or None."""
        ...

    def counts(self) -> dict[str, int]:
        """How many orders the book holds per status."""
        ...

    def interrupt(self) -> None:
        """Stop waiting for an unreachable database: a call retrying gives up and raises one of `errors`."""
        ...

    def close(self) -> None:
        """Close the connection; idempotent."""
        ...


def is_url(db: str | Path) -> bool:
    """True when `--db` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(db, str) and db.startswith(URL_SCHEMES)


def open_book(db: str | Path) -> Book:
    """The order book `--db` names: PostgreSQL for a postgresql:// URL, else a SQLite file; ConfigError."""
    if is_url(db):
        from device.store.pg import PostgresBook

        return PostgresBook(str(db))
    return OrderBook(db)


__all__ = ["Book", "CancelOutcome", "Recorded", "is_url", "open_book"]
