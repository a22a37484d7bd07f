"""The store's order book in SQLite: orders applied exactly once per order_id, cancels, catalogues.

The exactly-once guarantee is one constraint: `orders.order_id` is the PRIMARY KEY and an order is
applied by `INSERT ... ON CONFLICT(order_id) DO NOTHING`. Whichever writer inserts the row applied
the order; every other attempt (a re-send, a redelivery after a crash, a second backend process
sharing the same file) finds the row and answers `duplicate`. Writes run in `BEGIN IMMEDIATE`
transactions, the file is in WAL mode and waits `busy_timeout` for a competing writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.errors import ConfigError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id   TEXT PRIMARY KEY,   -- the idempotency key: one row per order, ever
    device_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,      -- the order JSON as received
    status     TEXT NOT NULL,      -- accepted | rejected | cancelled
    reason     TEXT,               -- why rejected (not-in-catalog, price-mismatch, ...)
    applied_at TEXT NOT NULL       -- ISO-8601 UTC, when the store first recorded it
);
CREATE TABLE IF NOT EXISTS cancels (
    order_id    TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    payload     TEXT NOT NULL,
    result      TEXT NOT NULL,     -- cancelled | too-late | unknown-order | the order's rejection
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS catalogues (
    device_id  TEXT PRIMARY KEY,   -- a device's own catalogue; others use the default one
    payload    TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


def stored_time(moment: datetime) -> str:
    """A UTC timestamp as stored in the book."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Recorded:
    """The book's answer to recording an order."""

    applied: bool
    """True when this call applied the order (its first arrival anywhere)."""
    device_id: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class CancelOutcome:
    """The book's answer to a cancel: the order-status to send back."""

    status: str
    reason: str | None


class OrderBook:
    """The SQLite file shared by every backend process; safe to use from several threads."""

    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    """What a call raises when the file could not do it (the message is then not acknowledged)."""
    workers = 1
    """One writer at a time: SQLite serializes them anyway."""

    def __init__(self, path: str | Path, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")  # an answered order survives power loss
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"order database {self.path} cannot be opened ({exc}); check --db") from None

    def interrupt(self) -> None:
        """Nothing to interrupt: a busy file is waited for at most `busy_timeout`."""

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def record_order(
        self, order_id: str, device_id: str, payload: str, status: str, reason: str | None, now: datetime
    ) -> Recorded:
        """Apply an order unless its order_id is already in the book; say what the book holds."""
        with self._write() as db:
            inserted = db.execute(
                "INSERT INTO orders (order_id, device_id, payload, status, reason, applied_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(order_id) DO NOTHING",
                (order_id, device_id, payload, status, reason, stored_time(now)),
            ).rowcount == 1
            if inserted and status == "accepted" and db.execute(
                "SELECT 1 FROM cancels WHERE order_id = ? AND device_id = ?", (order_id, device_id)
            ).fetchone():
                # The cancel overtook its order (e.g. two backends, one got each): honour it now.
                db.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = ?", (order_id,))
                db.execute("UPDATE cancels SET result = 'cancelled' WHERE order_id = ?", (order_id,))
                log.info("order %s from %s was cancelled before it arrived", order_id, device_id)
            row = db.execute(
                "SELECT device_id, status, reason FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
        return Recorded(inserted, row["device_id"], row["status"], row["reason"])

    def cancel(self, order_id: str, device_id: str, payload: str, now: datetime, window: float) -> CancelOutcome:
        """Cancel an accepted order of this device applied at most `window` seconds before `now`."""
        with self._write() as db:
            row = db.execute(
                "SELECT device_id, status, reason, applied_at FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
            if row is None or row["device_id"] != device_id:
                outcome = CancelOutcome("rejected", "unknown-order")
            elif row["status"] == "rejected":
                outcome = CancelOutcome("rejected", row["reason"])
            elif row["status"] == "cancelled":
                outcome = CancelOutcome("cancelled", None)
            elif (now - datetime.fromisoformat(row["applied_at"])).total_seconds() > window:
                outcome = CancelOutcome("rejected", "too-late")
            else:
                db.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = ?", (order_id,))
                outcome = CancelOutcome("cancelled", None)
            if row is None or row["device_id"] == device_id:
                db.execute(
                    "INSERT INTO cancels (order_id, device_id, payload, result, received_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(order_id) DO UPDATE SET result = excluded.result",
                    (order_id, device_id, payload, outcome.reason or outcome.status, stored_time(now)),
                )
        return outcome

    def save_catalogue(self, device_id: str, payload: str, now: datetime) -> None:
        """Store (or replace) a device's own catalogue."""
        with self._write() as db:
            db.execute(
                "INSERT INTO catalogues (device_id, payload, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(device_id) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at",
                (device_id, payload, stored_time(now)),
            )

    def catalogue(self, device_id: str) -> str | None:
        """A device's own catalogue JSON, or None when it uses the default."""
        with self._lock:
            row = self._conn.execute("SELECT payload FROM catalogues WHERE device_id = ?", (device_id,)).fetchone()
        return row["payload"] if row else None

    def order(self, order_id: str) -> dict[str, Any] | None:
        """One order's row (order_id, device_id, payload, status, reason, applied_at), or None."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return dict(row) if row else None

    def counts(self) -> dict[str, int]:
        """How many orders the book holds per status."""
        with self._lock:
            rows = self._conn.execute("SELECT status, COUNT(*) AS n FROM orders GROUP BY status").fetchall()
        return {row["status"]: row["n"] for row in rows}
