"""The store's order book in PostgreSQL: db.py's tables and answers, for instances on several machines.

Exactly-once is the same one constraint: `orders.order_id` is the PRIMARY KEY and an order is
applied by `INSERT ... ON CONFLICT (order_id) DO NOTHING`. Whichever transaction inserts the row
applied the order; any other (a re-send, a redelivery, another instance) finds the row and answers
`duplicate`. Each order and each cancel is one transaction, and both take a transaction-level
advisory lock on the order_id first, so an order and its cancel handled by two instances at once
see each other (as SQLite's single writer guarantees).

A lost connection is survived: a transaction that failed because the server went away (restart,
failover, network) is run again on a new connection, retried every 0.2 s doubling to 5 s, so the
MQTT message that carried it is acknowledged only once it is stored. A commit whose reply was lost
is recognised on the retry (the row holds this attempt's device, payload and receipt time) and
answered as applied rather than as its own duplicate.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from device.errors import ConfigError
from device.errors import require
from device.store.db import CancelOutcome, Recorded, stored_time

try:
    import psycopg
    from psycopg import conninfo
except ImportError:  # the optional extra: pip install 'reorder-speaker[store]'
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_LOCK = 0x7265_6F72  # advisory lock key: instances starting together create the tables once
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id   TEXT PRIMARY KEY,       -- the idempotency key: one row per order, ever
    device_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,          -- the order JSON as received
    status     TEXT NOT NULL,          -- accepted | rejected | cancelled
    reason     TEXT,                   -- why rejected (not-in-catalog, price-mismatch, ...)
    applied_at TIMESTAMPTZ NOT NULL    -- when the store first recorded it
);
CREATE TABLE IF NOT EXISTS cancels (
    order_id    TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    payload     TEXT NOT NULL,
    result      TEXT NOT NULL,         -- cancelled | too-late | unknown-order | the order's rejection
    received_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS catalogues (
    device_id  TEXT PRIMARY KEY,       -- a device's own catalogue; others use the default one
    payload    TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
"""

CONNECTION = {
    "connect_timeout": "10",
    "keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "3", "keepalives_count": "3",
    "tcp_user_timeout": "15000",  # a server gone silent mid-query is noticed in 15 s, not minutes
    "application_name": "reorder-store",
}
"""libpq settings used unless the URL gives its own."""


def redact(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def first_line(exc: BaseException) -> str:
    """An exception's message in one line (or its type)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresBook:
    """A PostgreSQL database shared by every backend instance; a connection per thread that uses it."""

    workers = 4
    """Orders handled at once by an instance: each waits for its commit, PostgreSQL flushes them together."""

    def __init__(self, url: str, retry_min: float = 0.2, retry_max: float = 5.0) -> None:
        self.where = redact(url)
        if psycopg is None:
            require("psycopg", "store", f"--db {self.where}")  # raises MissingExtra, one line
        self.errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        self.retry_min, self.retry_max = retry_min, retry_max
        self._local = threading.local()
        self._open: set[psycopg.Connection] = set()
        self._lock = threading.Lock()  # guards _open
        self._stop = threading.Event()
        self._closed = False
        try:
            self._conninfo = conninfo.make_conninfo(url, **{
                k: v for k, v in CONNECTION.items() if k not in conninfo.conninfo_to_dict(url)})
            db = self._connection()
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                db.execute(SCHEMA)
        except psycopg.Error as exc:
            self.close()
            raise ConfigError(f"order database {self.where} cannot be opened ({first_line(exc)}); check --db") from None

    def __repr__(self) -> str:
        with self._lock:
            return f"<PostgresBook {self.where}, {len(self._open)} connections>"

    def interrupt(self) -> None:
        """Stop retrying: a call waiting for the server gives up with the last error."""
        self._stop.set()

    def close(self) -> None:
        """Close every connection (a retry in progress gives up first); idempotent."""
        self._stop.set()
        with self._lock:
            self._closed = True
            connections, self._open = self._open, set()
        for db in connections:
            db.close()

    # --- connections and retries ---------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        """This thread's connection, opened when it has none (or lost it)."""
        db: psycopg.Connection | None = getattr(self._local, "db", None)
        if db is None or db.closed:
            if self._closed:
                raise psycopg.OperationalError(f"order book {self.where} is closed")
            db = psycopg.connect(self._conninfo, autocommit=True)
            self._local.db = db
            with self._lock:
                self._open.add(db)
        return db

    def _drop(self) -> None:
        db: psycopg.Connection | None = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            with self._lock:
                self._open.discard(db)
            db.close()

    def _run(self, work: Callable[[psycopg.Connection, bool], T], transaction: bool = True) -> T:
        """work(connection, retried) in one transaction, run again on a new connection after a lost one."""
        delay, retried = self.retry_min, False
        while True:
            try:
                db = self._connection()
                if not transaction:
                    return work(db, retried)
                with db.transaction():
                    return work(db, retried)
            except psycopg.OperationalError as exc:
                held = getattr(self._local, "db", None)
                # psycopg may leave a connection whose socket the server closed neither closed nor broken
                lost = held is None or held.closed or held.broken or held.info.status != psycopg.pq.ConnStatus.OK
                if not lost and not isinstance(exc, psycopg.errors.TransactionRollback):
                    raise
                if lost:
                    self._drop()
                if self._stop.is_set():
                    raise
                log.warning("order book %s: %s; retrying in %.1f s", self.where, first_line(exc), delay)
                if self._stop.wait(delay * random.uniform(0.8, 1.2)):
                    raise
                delay, retried = min(delay * 2, self.retry_max), True

    # --- the book ------------------------------------------------------------------------------

    def record_order(
        self, order_id: str, device_id: str, payload: str, status: str, reason: str | None, now: datetime
    ) -> Recorded:
        """Apply an order unless its order_id is already in the book; say what the book holds."""
        def work(db: psycopg.Connection, retried: bool) -> Recorded:
            # Two statements: the insert takes the order_id's lock first (it reads the lock's row),
            # then the row and any cancel that overtook it are read in one go.
            insert = db.execute(
                "WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)))"
                " INSERT INTO orders (order_id, device_id, payload, status, reason, applied_at)"
                " SELECT %s, %s, %s, %s, %s, %s FROM locked ON CONFLICT (order_id) DO NOTHING",
                (order_id, order_id, device_id, payload, status, reason, now),
            )
            row = db.execute(
                "SELECT device_id, status, reason, payload, applied_at, EXISTS (SELECT 1 FROM cancels"
                " WHERE cancels.order_id = orders.order_id AND cancels.device_id = %s)"
                " FROM orders WHERE order_id = %s",
                (device_id, order_id),
            ).fetchone()
            assert row is not None  # inserted or already there, under the order's lock
            held, held_status, held_reason, held_payload, held_at, overtaken = row
            inserted = insert.rowcount == 1
            if inserted and status == "accepted" and overtaken:
                # The cancel overtook its order (e.g. two backends, one got each): honour it now.
                db.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = %s", (order_id,))
                db.execute("UPDATE cancels SET result = 'cancelled' WHERE order_id = %s", (order_id,))
                log.info("order %s from %s was cancelled before it arrived", order_id, device_id)
                held_status = "cancelled"
            if retried and not inserted and (held, held_payload, held_at) == (device_id, payload, now):
                log.info("order %s: the commit went through before the connection was lost", order_id)
                inserted = True
            return Recorded(inserted, held, held_status, held_reason)

        return self._run(work)

    def cancel(self, order_id: str, device_id: str, payload: str, now: datetime, window: float) -> CancelOutcome:
        """Cancel an accepted order of this device applied at most `window` seconds before `now`."""
        def work(db: psycopg.Connection, retried: bool) -> CancelOutcome:
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (order_id,))
            row = db.execute(
                "SELECT device_id, status, reason, applied_at FROM orders WHERE order_id = %s", (order_id,)
            ).fetchone()
            if row is None or row[0] != device_id:
                outcome = CancelOutcome("rejected", "unknown-order")
            elif row[1] == "rejected":
                outcome = CancelOutcome("rejected", row[2])
            elif row[1] == "cancelled":
                outcome = CancelOutcome("cancelled", None)
            elif (now - row[3]).total_seconds() > window:
                outcome = CancelOutcome("rejected", "too-late")
            else:
                db.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = %s", (order_id,))
                outcome = CancelOutcome("cancelled", None)
            if row is None or row[0] == device_id:
                db.execute(
                    "INSERT INTO cancels (order_id, device_id, payload, result, received_at)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (order_id) DO UPDATE SET result = excluded.result",
                    (order_id, device_id, payload, outcome.reason or outcome.status, now),
                )
            return outcome

        return self._run(work)

    def save_catalogue(self, device_id: str, payload: str, now: datetime) -> None:
        """Store (or replace) a device's own catalogue."""
        self._run(lambda db, _: db.execute(
            "INSERT INTO catalogues (device_id, payload, updated_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (device_id) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at",
            (device_id, payload, now),
        ))

    def catalogue(self, device_id: str) -> str | None:
        """A device's own catalogue JSON, or None when it uses the default."""
        row = self._run(lambda db, _: db.execute(
            "SELECT payload FROM catalogues WHERE device_id = %s", (device_id,)).fetchone(), transaction=False)
        return row[0] if row else None

    def order(self, order_id: str) -> dict[str, Any] | None:
        """One order's row (order_id, device_id, payload, status, reason, applied_at as in SQLite), or None."""
        row = self._run(lambda db, _: db.execute(
            "SELECT order_id, device_id, payload, status, reason, applied_at FROM orders WHERE order_id = %s",
            (order_id,)).fetchone(), transaction=False)
        if row is None:
            return None
        keys = ("order_id", "device_id", "payload", "status", "reason", "applied_at")
        return {**dict(zip(keys, row, strict=True)), "applied_at": stored_time(row[5])}

    def counts(self) -> dict[str, int]:
        """How many orders the book holds per status."""
        rows = self._run(lambda db, _: db.execute(
            "SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall(), transaction=False)
        return {status: n for status, n in rows}
