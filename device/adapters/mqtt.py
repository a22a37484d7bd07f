"""The MQTT connection through paho-mqtt 2.x: persistent session, last will, TLS, reconnects."""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import MqttSettings
from ..errors import BrokerError, ConfigError
from ..inputs import Acked, BrokerDown, BrokerUp, Message

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
"""The broker keeps the device's session (subscriptions, unacknowledged QoS 1) this long."""
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


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


class MqttLink:
    """One paho client for the device; everything it hears goes to `inbox` (the loop's queue)."""

    def __init__(self, settings: MqttSettings, client_id: str, inbox: Callable[[object], None],
                 subscriptions: tuple[str, ...] = (), will: tuple[str, dict] | None = None) -> None:
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
        self.connected = False
        self.v5 = settings.protocol == "5"
        if self.v5:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        else:  # a persistent session the 3.1.1 way
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                      protocol=mqtt.MQTTv311, clean_session=False)
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
            return
        if self._subscriptions:
            client.subscribe([(t, 1) for t in self._subscriptions])
        self.connected = True
        self._inbox(BrokerUp())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        self._jitter_backoff()
        self._inbox(BrokerDown(str(reason_code)))

    def _jitter_backoff(self) -> None:
        """Reconnect after 0.5-1 s, doubling up to 30 s; the random start keeps a fleet that lost
        the same broker from reconnecting in lock-step."""
        self.client.reconnect_delay_set(min_delay=random.uniform(0.5, 1.0), max_delay=30)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._inbox(Acked(mid))

    def _on_message(self, client, userdata, message) -> None:
        self._inbox(Message(message.topic, bytes(message.payload)))

    # -- used by the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; reconnects by itself with backoff (1 s to 30 s)."""
        options: dict[str, Any] = {}
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            options = {"clean_start": False, "properties": props}
        self.client.on_connect_fail = lambda client, userdata: log.warning(
            "broker %s:%s unreachable; retrying", self.host, self.port)
        self.client.on_socket_open = _no_delay
        try:
            self.client.connect_async(self.host, self.port, keepalive=self.settings.keepalive_seconds, **options)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"broker {self.settings.broker} cannot be reached ({exc})") from None
        self.client.loop_start()

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> int | None:
        """QoS 1 publish; the message id, or None when paho could not take it."""
        info = self.client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            return None
        return info.mid

    def stop(self, final: tuple[str, dict] | None = None) -> None:
        """Publish a last message (the offline state), then disconnect cleanly."""
        if final and self.connected:
            info = self.client.publish(final[0], json.dumps(final[1]), qos=1, retain=True)
            try:
                info.wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()


def _no_delay(client, userdata, sock) -> None:
    """Orders are small: send them at once (no Nagle delay)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # TLS-wrapped or non-TCP sockets
        pass


def random_client_id(prefix: str) -> str:
    """A client id for tools that are not the device."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{os.getpid()}"
