"""The MQTT connection through paho-mqtt 2.x: persistent session, last will, TLS, reconnects.

What the link promises the delivery stage: every message `publish()` accepts is kept (by paho,
in memory) and sent again after every reconnect until the broker takes it, and exactly one
`Acked(ticket)` reaches the inbox when it does, carrying the ticket `publish()` returned. Tickets
are never reused, unlike MQTT packet ids (16 bits, recycled by paho as soon as a PUBACK frees
one), so a late acknowledgement can never be taken for another message's.

"Takes it" means a PUBACK that is not a refusal. An MQTT 5 broker may answer 0x10 "no matching
subscribers" (nobody will ever see the message: e.g. the store backend has not re-subscribed
since the broker restarted, Mosquitto 2.0 does not restore shared subscriptions) or a failure
code (0x87 not authorized: the ACL). Then the message is not acknowledged: it is published
again after 0.25 s, doubling up to 30 s, until it is taken; as soon as one message on a topic
is taken, the others waiting on that topic go at once. Retained messages (the device's
state) count as taken with 0x10, the broker keeps them for later subscribers.

Messages on the device's own topics are decoded here (decode_message): JSON, schema, catalogue
objects, Home Assistant's ON/OFF on the mute topic. The loop gets a typed `CatalogueArrived`,
`OrderStatus` or `MuteChanged`, and only for a topic the link subscribed to; a bad message is
logged and goes no further.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import random
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.config import MqttSettings
from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.contract.inputs import Acked, BrokerDown, BrokerUp, CatalogueArrived, Message, MuteChanged, OrderStatus
from device.contract.topics import Topics
from device.errors import BrokerError, CatalogueError, ConfigError

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
"""The broker keeps the device's session (subscriptions, unacknowledged QoS 1) this long."""
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
NO_MATCHING_SUBSCRIBERS = 0x10
"""MQTT 5 PUBACK reason: the broker accepted the message but nobody subscribes to it."""
RETRY_FIRST_SECONDS = 0.25
RETRY_MAX_SECONDS = 30.0
"""A message the broker did not take is published again after 0.25 s, doubling up to 30 s."""


def check_secret_file(path: str, what: str) -> Path:
    """A secret file must exist and be readable by its owner only (mode 0600 or stricter)."""
    p = Path(path).expanduser()
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{what} {p} cannot be read ({exc.strerror}); check the path in the config") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what} {p} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {p}")
    return p


def decode_message(topics: Topics, topic: str, payload: bytes) -> CatalogueArrived | OrderStatus | MuteChanged | None:
    """A message on one of the device's topics as the loop's typed input; None (logged) when it is not valid."""
    if topic == topics.mute:  # Home Assistant's switch: a bare ON / OFF, and nothing else
        command = payload.strip().upper()
        if command in (b"ON", b"OFF"):
            return MuteChanged(command == b"ON")
        log.warning("ignored a message on %s: not ON or OFF", topic)
        return None
    try:
        data = schemas.loads(payload)  # NaN/Infinity refused
    except (ValueError, UnicodeDecodeError, RecursionError):
        log.warning("ignored a message on %s: not JSON", topic)
        return None
    if topic == topics.order_status:
        wrong = schemas.problem(data, schemas.ORDER_STATUS)
        if wrong:
            log.warning("ignored an order-status message: %s", wrong)
            return None
        assert isinstance(data, dict)
        return OrderStatus(data["order_id"], data["status"], data.get("reason"))
    if topic == topics.catalog:
        try:
            return CatalogueArrived(Catalogue.from_payload(data, source=f"catalogue on {topic}"))
        except CatalogueError as exc:
            log.warning("ignored: %s; the device keeps its current catalogue", exc)
            return None
    log.warning("ignored a message on %s: not a topic of this device", topic)
    return None


@dataclass
class _Publication:
    """One message handed to the link, until the broker takes it."""

    ticket: int
    topic: str
    payload: str
    retain: bool
    refusals: int = 0


class MqttLink:
    """One paho client for the device; everything it hears goes to `inbox` (the loop's queue).

    With `topics`, messages are decoded (decode_message) and only valid ones reach the inbox;
    without, each arrives raw as a `Message` (the doctor reads them so). `clean` asks MQTT 3.1.1
    for a session that ends with the connection (MQTT 5 chooses that at connect: clean_start)."""

    def __init__(self, settings: MqttSettings, client_id: str, inbox: Callable[[object], None],
                 subscriptions: tuple[str, ...] = (), will: tuple[str, dict] | None = None,
                 topics: Topics | None = None, clean: bool = False) -> None:
        self.settings = settings
        url = urlsplit(settings.broker)
        self.host = url.hostname or "127.0.0.1"
        self.tls = url.scheme == "mqtts"
        self.port = url.port or (8883 if self.tls else 1883)
        if not self.tls and self.host not in LOOPBACK and not settings.allow_insecure:
            raise ConfigError(f"[mqtt] broker {settings.broker} is plain mqtt:// to another machine: orders would "
                              f"cross the network unencrypted; use mqtts:// or set allow_insecure = true")
        self._inbox = inbox
        self._subscriptions = subscriptions
        self._topics = topics
        self.connected = False
        self._attempted = threading.Event()  # the first connection attempt has succeeded or failed
        # Publications by ticket, paho packet ids → tickets, PUBACKs that beat publish() to the
        # bookkeeping, and refused publications waiting to go again; all under _lock. _handing
        # makes hand-overs to paho one at a time (it is never held by paho's network thread).
        self._lock = threading.Condition()
        self._handing = threading.Lock()
        self._tickets = itertools.count(1)
        self._pending: dict[int, _Publication] = {}
        self._by_mid: dict[int, int] = {}
        self._early: dict[int, Any] = {}
        self._in_hand = False
        self._again: list[tuple[float, int]] = []
        self._waiting_topics: set[str] = set()
        self._retry_thread: threading.Thread | None = None
        self._stopping = False
        self._last_warning = 0.0
        self.v5 = settings.protocol == "5"
        if self.v5:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        else:  # a persistent session the 3.1.1 way (`clean`: one that ends with the connection, for tools)
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                      protocol=mqtt.MQTTv311, clean_session=clean)
        self._jitter_backoff()
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        if will:
            topic, payload = will
            self.client.will_set(topic, json.dumps(payload), qos=1, retain=True)
        if settings.username:
            password = None
            if settings.password_file:
                password = check_secret_file(settings.password_file, "[mqtt] password_file").read_text().strip()
            self.client.username_pw_set(settings.username, password)
        if self.tls:
            if settings.key_file:
                check_secret_file(settings.key_file, "[mqtt] key_file")
            try:
                self.client.tls_set(ca_certs=settings.ca_file or None, certfile=settings.cert_file or None,
                                    keyfile=settings.key_file or None)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"[mqtt] TLS files cannot be used ({exc}); check ca_file, cert_file and key_file") \
                    from None

    # -- paho callbacks (its network thread): only put records on the inbox ----------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%s refused the connection: %s", self.host, self.port, reason_code)
            self._inbox(BrokerDown(str(reason_code)))
            self._attempted.set()
            return
        if self._subscriptions:
            client.subscribe([(t, 1) for t in self._subscriptions])
        self.connected = True
        self._inbox(BrokerUp())
        self._attempted.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        self._jitter_backoff()
        self._inbox(BrokerDown(str(reason_code)))
        self._attempted.set()

    def _on_connect_fail(self, client, userdata) -> None:
        log.warning("broker %s:%s unreachable; retrying", self.host, self.port)
        self._attempted.set()

    def _jitter_backoff(self) -> None:
        """Reconnect after 0.5-1 s, doubling up to 30 s; the random start keeps a fleet that lost
        the same broker from reconnecting in lock-step."""
        self.client.reconnect_delay_set(min_delay=random.uniform(0.5, 1.0), max_delay=30)  # type: ignore[arg-type]  # paho says int; any number of seconds works

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # paho's network thread, holding paho's message lock: `mid` cannot be reused until we return.
        with self._lock:
            if mid not in self._by_mid:
                if self._in_hand:  # the PUBACK beat _hand_over() to the bookkeeping
                    self._early[mid] = reason_code
                return
        self._settle(mid, reason_code)

    def _settle(self, mid: int, reason_code: Any) -> None:
        """The broker answered the publication that had packet id `mid`: acknowledge it or send it again."""
        with self._lock:
            ticket = self._by_mid.pop(mid, None)
            publication = self._pending.get(ticket) if ticket is not None else None
            if publication is None:
                return
            code = getattr(reason_code, "value", 0)
            taken = not reason_code.is_failure and (code != NO_MATCHING_SUBSCRIBERS or publication.retain)
            if taken:
                del self._pending[publication.ticket]
                if publication.topic in self._waiting_topics and not publication.retain:
                    self._subscriber_back(publication.topic)
                self._lock.notify_all()
            else:
                delay = self._publish_later(publication)
        if taken:
            self._inbox(Acked(publication.ticket))
            return
        now = time.monotonic()
        if publication.refusals == 1 and now - self._last_warning >= 10.0:
            self._last_warning = now
            if code == NO_MATCHING_SUBSCRIBERS:
                log.warning("broker %s:%s has no subscriber for %s (is the store backend connected?); "
                            "kept, publishing it again in %.1f s", self.host, self.port, publication.topic, delay)
            else:
                log.error("broker %s:%s refused the publish to %s (%s); check the broker's ACL for this device; "
                          "kept, publishing it again in %.1f s", self.host, self.port, publication.topic, reason_code,
                          delay)
        else:
            log.debug("publish %d to %s not taken (%s); again in %.1f s", publication.ticket, publication.topic,
                      reason_code, delay)

    def _subscriber_back(self, topic: str) -> None:
        """A message on `topic` was taken: those refused on it go again now, not at their backoff (under _lock)."""
        self._waiting_topics.discard(topic)
        now = time.monotonic()
        self._again = [(now if self._pending.get(t) and self._pending[t].topic == topic else due, t)
                       for due, t in self._again]
        heapq.heapify(self._again)

    def _publish_later(self, publication: _Publication) -> float:
        """Schedule a refused publication again (under _lock); returns the delay."""
        publication.refusals += 1
        self._waiting_topics.add(publication.topic)
        delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (publication.refusals - 1))
        delay *= random.uniform(1.0, 1.5)
        heapq.heappush(self._again, (time.monotonic() + delay, publication.ticket))
        if self._retry_thread is None:
            self._retry_thread = threading.Thread(target=self._retry_loop, daemon=True, name="mqtt-again")
            self._retry_thread.start()
        self._lock.notify_all()
        return delay

    def _retry_loop(self) -> None:
        with self._lock:
            while not self._stopping:
                if not self._again:
                    self._lock.wait(1.0)
                    continue
                due, ticket = self._again[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._lock.wait(min(wait, 1.0))
                    continue
                heapq.heappop(self._again)
                publication = self._pending.get(ticket)
                if publication is None:
                    continue
                self._lock.release()
                try:
                    handed = self._hand_over(publication)
                except Exception:  # this thread must live on: the message waits for the next try
                    log.exception("publishing to %s again failed", publication.topic)
                    handed = False
                finally:
                    self._lock.acquire()
                if not handed:
                    self._publish_later(publication)

    def _on_message(self, client, userdata, message) -> None:
        if self._topics is None:
            self._inbox(Message(message.topic, bytes(message.payload)))
            return
        if message.topic not in self._subscriptions:  # only what this link asked for: a mirror hears mute only
            log.warning("ignored a message on %s: not subscribed to it", message.topic)
            return
        try:
            item = decode_message(self._topics, message.topic, bytes(message.payload))
        except Exception:  # paho's thread must live on; the message goes no further
            log.exception("ignored a message on %s: it could not be decoded", message.topic)
            return
        if item is not None:
            self._inbox(item)

    # -- used by the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; reconnects by itself with backoff (0.5-1 s, doubling to 30 s)."""
        options: dict[str, Any] = {}
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            options = {"clean_start": False, "properties": props}
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_socket_open = _no_delay
        try:
            self.client.connect_async(self.host, self.port, keepalive=self.settings.keepalive_seconds, **options)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"broker {self.settings.broker} cannot be reached ({exc})") from None
        self.client.loop_start()

    def first_attempt(self, timeout: float) -> bool:
        """Wait up to `timeout` s (wall time) for the first connection attempt to succeed or fail; whether it is
        connected. A replay waits so before its audio time starts, so that its events do not depend on how fast
        the broker answered."""
        self._attempted.wait(timeout)
        return self.connected

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> int | None:
        """QoS 1 publish, kept and re-sent until the broker takes it; the ticket that its `Acked`
        will carry, or None when paho could not take it."""
        with self._lock:
            publication = _Publication(next(self._tickets), topic, json.dumps(payload, separators=(",", ":")),
                                       retain)
            self._pending[publication.ticket] = publication
        if not self._hand_over(publication):
            with self._lock:
                self._pending.pop(publication.ticket, None)
            return None
        return publication.ticket

    def _hand_over(self, publication: _Publication) -> bool:
        """Give paho one publication (sent now, or after the next connect); False if it refused."""
        with self._handing:
            with self._lock:
                self._in_hand, self._early = True, {}
            try:
                for _ in range(3):  # a packet id still held by paho: the next one is free
                    info = self.client.publish(publication.topic, publication.payload, qos=1,
                                               retain=publication.retain)
                    if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                        break
            except BaseException:
                with self._lock:
                    self._in_hand = False
                raise
            handed = info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)
            with self._lock:
                self._in_hand = False
                if handed:
                    self._by_mid[info.mid] = publication.ticket
                early = self._early.pop(info.mid, None)
            if not handed:
                log.warning("publish to %s failed: %s", publication.topic, mqtt.error_string(info.rc))
                return False
            if early is not None:
                self._settle(info.mid, early)
        return True

    @property
    def unacknowledged(self) -> int:
        """Messages accepted by publish() that the broker has not taken yet."""
        with self._lock:
            return len(self._pending)

    def stop(self, final: tuple[str, dict] | None = None) -> None:
        """Publish a last message (the offline state), then disconnect cleanly; idempotent."""
        if final and self.connected:
            ticket = self.publish(final[0], final[1], retain=True)
            deadline = time.monotonic() + 2.0
            with self._lock:
                while ticket in self._pending and time.monotonic() < deadline:
                    self._lock.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self.client.disconnect()
        self.client.loop_stop()
        if self._retry_thread is not None:
            self._retry_thread.join(timeout=2.0)


def _no_delay(client, userdata, sock) -> None:
    """Orders are small: send them at once (no Nagle delay)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # TLS-wrapped or non-TCP sockets
        pass


def random_client_id(prefix: str) -> str:
    """A client id for tools that are not the device."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{os.getpid()}"
