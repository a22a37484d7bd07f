"""The store backend's MQTT session: one paho client, shared subscriptions, a session that outlives restarts.

MQTT 5 by default. With a stable client id the session is persistent (clean_start False and a
session expiry): the broker queues the store's messages while it is down and redelivers what it
had not acknowledged. Messages are acknowledged only when the handler says so (manual acks).
A broker without MQTT 5 (amqtt, used by `reorder demo`) gets MQTT 3.1.1 and plain subscriptions.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.errors import BrokerError, ConfigError
from device.store.workers import Workers

log = logging.getLogger(__name__)

UNSUPPORTED_PROTOCOL = 0x84
"""CONNACK reason code of a broker that does not speak MQTT 5."""

Handler = Callable[[str, bytes], bool]
"""Handles one message (topic, payload); returns True when it may be acknowledged."""


@dataclass(frozen=True)
class BrokerAddress:
    """Host, port and TLS of a `mqtt://host:port` or `mqtts://host:port` URL."""

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse a broker URL; raises ConfigError naming --broker."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or port == -1:
            raise ConfigError(f"--broker must look like mqtt://host:port or mqtts://host:port (got {url!r})")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, port or (8883 if tls else 1883), tls)


class _NoMqtt5(Exception):
    """The broker refused MQTT 5."""


@dataclass
class StoreSession:
    """The store's connection to the broker; `open()` it with the topics and a message handler."""

    broker_url: str
    client_id: str
    persistent: bool
    username: str | None = None
    password: str | None = None
    ca_file: str | Path | None = None
    session_expiry: int = 7 * 24 * 3600
    connect_timeout: float = 10.0
    workers: int = 1
    """Threads handling messages: 1 handles each in paho's network thread; more, see workers.py."""

    def __post_init__(self) -> None:
        self.broker = BrokerAddress.parse(self.broker_url)
        self.shared = True
        self._client: mqtt.Client | None = None
        self._closing = False
        self._network_thread: int | None = None
        self._ready = threading.Event()
        self._refusal: str | None = None
        self._refusal_code = 0
        self._workers: Workers | None = None
        self._connection = 0  # counts successful connects: a worker acknowledges on the one it got the message on

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._client is not None and self._client.is_connected()

    def open(self, topics: Callable[[bool], list[str]], handle: Handler) -> None:
        """Connect and subscribe to `topics(shared)`; raises BrokerError (one line) when refused."""
        try:
            self._connect(mqtt.MQTTv5, topics, handle)
        except _NoMqtt5:
            log.warning("broker %s does not speak MQTT 5: using 3.1.1 without shared subscriptions;"
                        " run a single store backend against it", self.broker_url)
            self._connect(mqtt.MQTTv311, topics, handle)

    def close(self) -> None:
        """Disconnect; a persistent session stays on the broker. Idempotent."""
        client, self._closing = self._client, True
        if self._workers is not None:  # first: the message being handled is still acknowledged
            self._workers.close()
            self._workers = None
        if client is not None:
            client.disconnect()
            client.loop_stop()
            self._client = None

    def publish(self, topic: str, payload: str, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Publish at QoS 1 (queued by paho while the connection is down)."""
        if self._client is None:
            raise RuntimeError("open() the store session before publishing")
        return self._client.publish(topic, payload, qos=1, retain=retain)

    def in_network_thread(self) -> bool:
        """True inside a message handler (where waiting for an acknowledgement would deadlock)."""
        return threading.get_ident() == self._network_thread

    def _connect(self, protocol: mqtt.MQTTProtocolVersion, topics: Callable[[bool], list[str]],
                 handle: Handler) -> None:
        self._refusal, self._refusal_code, self._closing = None, 0, False
        self._ready.clear()
        v5 = self.shared = protocol == mqtt.MQTTv5
        subscriptions = topics(v5)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=protocol,
                             clean_session=None if v5 else not self.persistent, manual_ack=True)
        # paho's default waits 1 s doubling to 120 s: a store back late leaves every device's orders
        # refused ("no matching subscribers") meanwhile. A server process reconnects fast; the
        # jitter keeps several store instances from reconnecting in lock-step.
        client.reconnect_delay_set(min_delay=random.uniform(0.2, 0.4), max_delay=5)  # type: ignore[arg-type]  # paho says int; any number of seconds works
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.broker.tls:
            try:
                client.tls_set(ca_certs=str(self.ca_file) if self.ca_file else None)
            except OSError as exc:
                raise ConfigError(f"CA file {self.ca_file} cannot be used ({exc}); check --ca-file") from None

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            self._network_thread = threading.get_ident()
            if reason.is_failure:
                self._refusal, self._refusal_code = f"refused the connection ({reason})", reason.value
                self._ready.set()
                return
            self._connection += 1
            log.info("connected to %s as %s (%s session)", self.broker_url, self.client_id,
                     "resumed" if flags.session_present else "new")
            client.subscribe([(topic, 1) for topic in subscriptions])

        def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, reasons: list, props: Any) -> None:
            refused = [(t, r) for t, r in zip(subscriptions, reasons, strict=False) if r.is_failure]
            if refused:
                self._refusal = "refused the subscription to {} ({})".format(*refused[0])
                log.error("broker %s %s", self.broker_url, self._refusal)
            self._ready.set()

        def on_disconnect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if not self._closing and self._refusal is None:
                log.warning("lost the broker %s (%s); reconnecting", self.broker_url, reason)

        def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            if self._workers is not None:
                self._workers.put(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._connection)
            elif handle(msg.topic, bytes(msg.payload)):
                client.ack(msg.mid, msg.qos)

        if self.workers > 1 and self._workers is None:
            self._workers = Workers(self.workers, handle, lambda mid, qos: client.ack(mid, qos),
                                    lambda connection: connection == self._connection and client.is_connected(),
                                    self.client_id)

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        client.on_disconnect, client.on_message = on_disconnect, on_message
        options: dict[str, Any] = {}
        if v5:
            options["clean_start"] = not self.persistent
            if self.persistent:
                options["properties"] = Properties(PacketTypes.CONNECT)
                options["properties"].SessionExpiryInterval = self.session_expiry
        where = f"broker {self.broker.host}:{self.broker.port}"
        self._client = client  # before connecting: a resumed session may deliver at once
        try:
            client.connect(self.broker.host, self.broker.port, keepalive=30, **options)
        except OSError as exc:
            self._client = None
            raise BrokerError(f"cannot reach {where} ({exc.strerror or exc}); check --broker"
                              " and that the broker is running") from None
        client.loop_start()
        if not self._ready.wait(self.connect_timeout) or self._refusal:
            self.close()
            if self._refusal_code == UNSUPPORTED_PROTOCOL and v5:
                raise _NoMqtt5()
            raise BrokerError(f"{where} {self._refusal or 'did not answer in time'};"
                              " check --broker, --username, --password-file and the broker's ACL")
