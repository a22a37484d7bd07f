"""The outbox: confirmed orders on disk until the broker acknowledges them.

paho-mqtt keeps unsent messages in memory only; this file is what makes an order survive a
network cut, a broker restart or a power cut. An order is committed (WAL, synchronous=FULL)
before the `queued` event, marked sent only on the broker's PUBACK, and re-sent after every
reconnect and restart. The store de-duplicates by order_id, so re-sending is always safe.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from device.errors import OutboxError
from device.orders.payload import iso

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    sent_at TEXT,
    status TEXT,
    reason TEXT,
    withdrawn INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS orders_unsent ON orders (seq) WHERE sent_at IS NULL AND withdrawn = 0;
"""
KEEP_DAYS = 30
"""Sent or undone orders are kept this long for the daily limit, the repeat guard and `doctor`: each new
order forgets those confirmed more than KEEP_DAYS before it (unsent orders are never forgotten)."""


class OutboxFull(OutboxError):
    """The outbox holds `capacity` unsent orders; new orders are refused out loud, none dropped."""


class Outbox:
    """Durable queue of orders, oldest first; also the device's order history."""

    def __init__(self, path: str | Path, capacity: int = 1000,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.path = Path(path)
        self.capacity = capacity
        self.now = now
        """The wall clock (UTC) for when orders were sent and a corrupt file was set aside."""
        self.recovered_from: Path | None = None
        """Where a corrupt outbox was moved at start (it is kept for recovery, never deleted)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(f"outbox folder {self.path.parent} cannot be created ({exc.strerror}); "
                              f"set [storage] outbox or --outbox to a writable path") from None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            self._db = self._set_aside(exc)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            db.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            db.close()
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise OutboxError(f"outbox {self.path} is not writable ({exc}); fix its permissions") from None
            raise sqlite3.DatabaseError(str(exc)) from None
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _set_aside(self, exc: Exception) -> sqlite3.Connection:
        """Keep a corrupt file (and its WAL) beside the new one, and start empty."""
        stamp = self.now().strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                src.rename(Path(str(aside) + suffix))
        log.error("outbox %s is corrupt (%s); moved to %s and started a new one — orders in it were not sent; "
                  "inspect it with sqlite3", self.path, exc, aside)
        self.recovered_from = aside
        return self._open()

    # -- the queue ----------------------------------------------------------------------------------
    def add(self, order: dict[str, Any]) -> None:
        """Commit an order to disk (raises OutboxFull, never drops)."""
        if self.depth() >= self.capacity:
            raise OutboxFull(f"outbox {self.path} holds {self.capacity} unsent orders; check the broker connection")
        self._db.execute("INSERT OR IGNORE INTO orders (order_id, created_at, payload) VALUES (?, ?, ?)",
                         (order["order_id"], order["created_at"], json.dumps(order, separators=(",", ":"))))
        try:  # the order's own time (the loop's clock), so a wrong wall clock never empties the history
            created = datetime.fromisoformat(order["created_at"])
        except (TypeError, ValueError):
            return
        self.prune(created)

    def pending(self) -> list[dict[str, Any]]:
        """Unsent orders, oldest first."""
        rows = self._db.execute("SELECT payload FROM orders WHERE sent_at IS NULL AND withdrawn = 0 ORDER BY seq")
        return [json.loads(r[0]) for r in rows]

    def depth(self) -> int:
        """How many orders wait to be sent."""
        return self._db.execute("SELECT COUNT(*) FROM orders WHERE sent_at IS NULL AND withdrawn = 0").fetchone()[0]

    def _relaxed(self, sql: str, args: tuple) -> sqlite3.Cursor:
        """Run one statement without waiting for the disk: losing it in a power cut only means the
        order is sent again and answered `duplicate`. (Orders themselves are added with an fsync.)"""
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            return self._db.execute(sql, args)
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    def mark_sent(self, order_id: str) -> bool:
        """Record the broker's acknowledgement; True the first time."""
        cur = self._relaxed("UPDATE orders SET sent_at = ? WHERE order_id = ? AND sent_at IS NULL",
                            (iso(self.now()), order_id))
        return cur.rowcount > 0

    def is_sent(self, order_id: str) -> bool:
        """Whether the broker acknowledged this order."""
        row = self._db.execute("SELECT sent_at FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return bool(row and row[0])

    def withdraw(self, order_id: str) -> bool:
        """Undo an order that was not sent yet: it will never leave the device. True if withdrawn."""
        cur = self._db.execute("UPDATE orders SET withdrawn = 1, status = 'cancelled' "
                               "WHERE order_id = ? AND sent_at IS NULL AND withdrawn = 0", (order_id,))
        return cur.rowcount > 0

    def record_status(self, order_id: str, status: str, reason: str | None = None) -> bool:
        """Keep the store's last answer; a cancelled order no longer counts for limits. False if unknown.

        `duplicate` (the answer to an order sent again) never hides the store's first answer."""
        if status == "duplicate":
            cur = self._relaxed("UPDATE orders SET status = COALESCE(status, 'duplicate') WHERE order_id = ?",
                                (order_id,))
            return cur.rowcount > 0
        cur = self._relaxed("UPDATE orders SET status = ?, reason = ?, withdrawn = withdrawn OR ? "
                            "WHERE order_id = ?", (status, reason, status in ("cancelled", "rejected"), order_id))
        return cur.rowcount > 0

    def unanswered(self, limit: int) -> list[dict[str, Any]]:
        """Orders the broker acknowledged that the store has not answered, oldest first (at most `limit`,
        the newest ones): a broker that dies after its PUBACK may have lost them, so they go again."""
        rows = self._db.execute("SELECT payload FROM (SELECT seq, payload FROM orders WHERE sent_at IS NOT NULL "
                                "AND status IS NULL AND withdrawn = 0 ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                                (limit,))
        return [json.loads(r[0]) for r in rows]

    def last_accepted(self) -> dict[str, Any] | None:
        """The newest order the store accepted (or shipped) and that was not undone: what "the usual" repeats."""
        row = self._db.execute("SELECT payload FROM orders WHERE status IN ('accepted', 'shipped') AND withdrawn = 0 "
                               "ORDER BY seq DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    def status_of(self, order_id: str) -> str | None:
        """The last status recorded for an order."""
        row = self._db.execute("SELECT status FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return row[0] if row else None

    # -- history (OrderHistory) ---------------------------------------------------------------------
    def orders_since(self, since: datetime) -> int:
        """Orders confirmed since then and not undone or rejected."""
        return self._db.execute("SELECT COUNT(*) FROM orders WHERE created_at >= ? AND withdrawn = 0",
                                (iso(since),)).fetchone()[0]

    def skus_since(self, since: datetime) -> set[str]:
        """SKUs of orders confirmed since then and not undone or rejected."""
        rows = self._db.execute("SELECT payload FROM orders WHERE created_at >= ? AND withdrawn = 0", (iso(since),))
        return {line["sku"] for (payload,) in rows for line in json.loads(payload)["items"]}

    def prune(self, now: datetime) -> int:
        """Forget sent orders older than KEEP_DAYS; returns how many."""
        cutoff = iso(now - timedelta(days=KEEP_DAYS))
        return self._relaxed("DELETE FROM orders WHERE created_at < ? AND (sent_at IS NOT NULL OR withdrawn = 1)",
                             (cutoff,)).rowcount

    def close(self) -> None:
        """Close the database (idempotent)."""
        try:
            self._db.close()
        except sqlite3.Error:  # pragma: no cover - closing twice is harmless
            pass
