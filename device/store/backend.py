"""The reference store backend (CONTRACT §3): the executable statement of the contract for integrators.

It consumes every device's orders and cancels through shared subscriptions
(`$share/store/{prefix}/devices/+/orders`, `.../+/cancel`), so several instances split the load;
checks each order against that device's catalogue (checks.py); applies it once per order_id in
the order book `db` names (book.py: a SQLite file, db.py, or a postgresql:// URL, pg.py) and
answers on `{prefix}/devices/{id}/order-status`. It publishes catalogues retained and watches the
retained `state` of devices to learn about them, and their `stats`: one log line per device
whenever its counters move (stages.stats.summary).

Give each instance a stable `client_id`: its MQTT session then outlives restarts, so orders sent
while it is down wait on the broker (session.py). Without one it takes a random id and a clean
session, because Mosquitto hands a shared subscription's messages round-robin to offline sessions
too: an abandoned random session would swallow its share of orders until it expired.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.contract.topics import Topics, device_id_of
from device.errors import BrokerError, ConfigError
from device.store.book import open_book
from device.store.session import StoreSession
from device.store.validation import INVALID, invalid_reason, rejection
from device.telemetry.stats import summary

log = logging.getLogger(__name__)

DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SHARE_GROUP = "store"

Hook = Callable[[dict[str, Any], dict[str, Any]], None]
"""Called with the request (order or cancel, as decoded) and the order-status answer sent for it."""


class StoreBackend:
    """Consumes orders and cancels of every device, applies each order once, answers on order-status."""

    def __init__(
        self,
        broker_url: str,
        db: str | Path,
        *,
        catalogue: Catalogue | None = None,
        prefix: str = "reorder/v1",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | Path | None = None,
        cancel_window: float = 120.0,
        session_expiry: int = 7 * 24 * 3600,
        watch_state: bool = True,
        on_order: Hook | None = None,
        on_cancel: Hook | None = None,
        clock: Callable[[], float] = time.time,
        connect_timeout: float = 10.0,
        workers: int | None = None,
    ) -> None:
        self.session = StoreSession(broker_url, client_id or f"store-{secrets.token_hex(4)}",
                                    persistent=client_id is not None, username=username, password=password,
                                    ca_file=ca_file, session_expiry=session_expiry, connect_timeout=connect_timeout)
        self.book = open_book(db)
        self.session.workers = workers or self.book.workers  # messages handled at once (workers.py)
        self.default_catalogue = catalogue
        self.prefix = prefix
        self.cancel_window = cancel_window
        self.watch_state = watch_state
        self.on_order, self.on_cancel = on_order, on_cancel
        self._clock = clock
        self._catalogue_offered: set[str] = set()
        self._parsed: dict[str, tuple[str, Catalogue]] = {}
        self._counters: dict[str, str] = {}
        """Device id → its last counters logged, to log a line only when they move."""

    def __repr__(self) -> str:
        state = "connected" if self.session.connected else "not connected"
        return f"<StoreBackend {self.session.client_id} {state} to {self.session.broker_url}, {self.book.where}>"

    def __enter__(self) -> StoreBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> StoreBackend:
        """Connect, subscribe and consume in a background thread; raises BrokerError (one line)."""
        self.session.open(self._subscriptions, self._handle)
        return self

    def stop(self) -> None:
        """Disconnect (a persistent session stays on the broker) and close the order book; idempotent."""
        self.book.interrupt()  # a message waiting for the database gives up, unacknowledged
        self.session.close()
        self.book.close()

    def _subscriptions(self, shared: bool) -> list[str]:
        every = Topics(self.prefix, "+")
        share = f"$share/{SHARE_GROUP}/" if shared else ""
        topics = [share + every.orders, share + every.cancel]
        return [*topics, every.state, every.stats] if self.watch_state else topics

    def _handle(self, topic: str, raw: bytes) -> bool:
        """Handle one message; False (do not acknowledge) when the order book could not record it."""
        try:
            self._dispatch(topic, raw)
        except self.book.errors as exc:
            log.error("order book %s failed on %s (%s); not acknowledged, the broker redelivers it"
                      " when this session reconnects", self.book.where, topic, exc)
            return False
        except Exception:  # a bug in one message must not stop the backend
            log.exception("could not handle the message on %s; dropped", topic)
        return True

    def _dispatch(self, topic: str, raw: bytes) -> None:
        device_id = device_id_of(topic, self.prefix)
        leaf = topic.rsplit("/", 1)[-1]
        handler = {"orders": self._on_order, "cancel": self._on_cancel, "state": self._on_state,
                   "stats": self._on_stats}.get(leaf)
        if device_id is None or handler is None:
            log.warning("ignored a message on unexpected topic %s", topic)
            return
        if not raw:  # a cleared retained message
            return
        try:
            request = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            log.warning("%s message from %s is not UTF-8 JSON (%s); ignored", leaf, device_id, exc)
            return
        handler(device_id, request)

    # --- the contract --------------------------------------------------------------------------

    def _on_order(self, device_id: str, order: Any) -> None:
        wrong = invalid_reason(order, device_id)
        if wrong:
            readable = order.get("order_id") if isinstance(order, dict) else None
            log.warning("order %s from %s is invalid: %s", readable or "(no order_id)", device_id, wrong)
            if isinstance(readable, str) and readable:
                self._notify(self.on_order, order, self._answer(device_id, readable, "rejected", INVALID))
            return
        order_id: str = order["order_id"]
        self._offer_catalogue(device_id)
        reason = rejection(order, self.catalogue_for(device_id))
        payload = json.dumps(order, ensure_ascii=False)
        held = self.book.record_order(order_id, device_id, payload, "rejected" if reason else "accepted",
                                      reason, self._now())
        if held.applied:
            log.info("order %s from %s: %s%s (total %s %s)", order_id, device_id, held.status,
                     f" {held.reason}" if held.reason else "", order["total"], order["currency"])
            answer = self._answer(device_id, order_id, held.status, held.reason)
        elif held.device_id != device_id:
            log.warning("order %s from %s reuses an order_id of %s; rejected", order_id, device_id, held.device_id)
            answer = self._answer(device_id, order_id, "rejected", INVALID)
        else:
            log.info("order %s from %s again: duplicate of %s", order_id, device_id, held.status)
            answer = self._answer(device_id, order_id, "duplicate", held.reason, original_status=held.status)
        self._notify(self.on_order, order, answer)

    def _on_cancel(self, device_id: str, cancel: Any) -> None:
        wrong = schemas.problem(cancel, schemas.CANCEL)
        if not wrong and cancel["device_id"] != device_id:
            wrong = f"device_id {cancel['device_id']!r} does not match the topic's device"
        if not wrong and "\x00" in cancel["order_id"]:
            wrong = "order_id contains a NUL character"
        if wrong:
            log.warning("cancel from %s is invalid: %s; ignored", device_id, wrong)
            return
        outcome = self.book.cancel(cancel["order_id"], device_id, json.dumps(cancel, ensure_ascii=False),
                                   self._now(), self.cancel_window)
        log.info("cancel of %s from %s: %s%s", cancel["order_id"], device_id, outcome.status,
                 f" {outcome.reason}" if outcome.reason else "")
        self._notify(self.on_cancel, cancel,
                     self._answer(device_id, cancel["order_id"], outcome.status, outcome.reason))

    def _on_state(self, device_id: str, state: Any) -> None:
        wrong = schemas.problem(state, schemas.STATE)
        if wrong:
            log.warning("state of %s is invalid: %s; ignored", device_id, wrong)
            return
        log.info("device %s: %s, firmware %s, outbox %d%s", device_id, "online" if state["online"] else "offline",
                 state["firmware"], state["outbox_depth"], ", muted" if state["muted"] else "")
        self._offer_catalogue(device_id)

    def _on_stats(self, device_id: str, stats: Any) -> None:
        wrong = schemas.problem(stats, schemas.STATS)
        if wrong:
            log.warning("stats of %s are invalid: %s; ignored", device_id, wrong)
            return
        moved = json.dumps([stats["since_boot"], stats["since_install"], stats["outbox_depth"], stats["recognizer"]],
                           sort_keys=True)
        if self._counters.get(device_id) != moved:
            self._counters[device_id] = moved
            log.info("device %s: %s", device_id, summary(stats))

    def _answer(self, device_id: str, order_id: str, status: str, reason: str | None = None,
                **extra: Any) -> dict[str, Any]:
        answer: dict[str, Any] = {"schema": "reorder.order-status/1", "order_id": order_id, "status": status}
        if reason:
            answer["reason"] = reason
        answer.update(extra)
        self.session.publish(Topics(self.prefix, device_id).order_status, json.dumps(answer))
        return answer

    @staticmethod
    def _notify(hook: Hook | None, request: Any, answer: dict[str, Any]) -> None:
        if hook is None:
            return
        try:
            hook(request, answer)
        except Exception:  # a UI hook's bug must not stop orders being answered
            log.exception("the %s hook failed", getattr(hook, "__name__", "order"))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- catalogues ----------------------------------------------------------------------------

    def catalogue_for(self, device_id: str) -> Catalogue | None:
        """The catalogue orders of this device are checked against: its own, else the default."""
        text = self.book.catalogue(device_id)
        if text is None:
            return self.default_catalogue
        cached = self._parsed.get(device_id)
        if cached is None or cached[0] != text:
            cached = (text, Catalogue.from_json(text, source=f"catalogue of {device_id} in {self.book.where}"))
            self._parsed[device_id] = cached
        return cached[1]

    def publish_catalog(self, device_id: str, catalogue: Catalogue, timeout: float = 10.0) -> None:
        """Make `catalogue` this device's own: store it in the order book and publish it retained (QoS 1)."""
        self._check_publishable(device_id)
        self.book.save_catalogue(device_id, json.dumps(catalogue.to_payload()), self._now())
        self._catalogue_offered.add(device_id)
        self._publish_catalogue(device_id, catalogue, timeout)

    def announce_catalog(self, device_id: str, timeout: float = 10.0) -> None:
        """Publish, retained, the catalogue this device is checked against (its own, else the default)."""
        self._check_publishable(device_id)
        catalogue = self.catalogue_for(device_id)
        if catalogue is None:
            raise ConfigError(f"no catalogue for device {device_id}: give --catalog or publish one for it")
        self._catalogue_offered.add(device_id)
        self._publish_catalogue(device_id, catalogue, timeout)

    def _check_publishable(self, device_id: str) -> None:
        if not DEVICE_ID.fullmatch(device_id):
            raise ConfigError(f"device id {device_id!r} must be 1-64 letters, digits, '-' or '_'")
        if not self.session.connected:
            raise BrokerError(f"not connected to {self.session.broker_url}: start() the store backend"
                              " (or let it reconnect) before publishing catalogues")

    def _offer_catalogue(self, device_id: str) -> None:
        """Publish the default catalogue, once per run, to a device heard from that has none of its own."""
        default = self.default_catalogue
        if device_id in self._catalogue_offered or default is None or not DEVICE_ID.fullmatch(device_id):
            return
        self._catalogue_offered.add(device_id)
        if self.book.catalogue(device_id) is None:
            self._publish_catalogue(device_id, default, timeout=None)

    def _publish_catalogue(self, device_id: str, catalogue: Catalogue, timeout: float | None) -> None:
        log.info("publishing catalogue version %d for %s", catalogue.version, device_id)
        info = self.session.publish(Topics(self.prefix, device_id).catalog, json.dumps(catalogue.to_payload()),
                                    retain=True)
        if timeout is not None and not self.session.in_network_thread():
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise BrokerError(f"broker {self.session.broker_url} did not acknowledge the catalogue for {device_id}"
                                  f" within {timeout:g} s; check the broker and the store account's ACL")

    # --- queries -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many orders the order book holds per status (accepted, rejected, cancelled)."""
        return self.book.counts()

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The order book's row for one order, or None."""
        return self.book.order(order_id)
