"""Doctor checks that talk to the broker: reachability and credentials, and the device's catalogue.

The doctor connects through MqttLink (same TLS, username and password as the device) but with a
client id of its own and a clean session that ends when it disconnects: using the device's client
id would take over the running device's persistent session and drop what the broker queued for it.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import time
from typing import Any

from device.config import Settings
from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.contract.inputs import BrokerDown, BrokerUp, Message
from device.contract.topics import Topics
from device.doctor.result import Result, failed, in_config, passed, split_message, warned
from device.errors import BrokerError, CatalogueError, ConfigError

log = logging.getLogger(__name__)

BROKER_TIMEOUT = 5.0
"""Seconds to connect and hear the CONNACK."""
CATALOGUE_TIMEOUT = 5.0
"""Seconds to wait for the retained catalogue after subscribing."""
REFUSED_CREDENTIALS = ("Bad user name or password", "Not authorized", "Bad username or password")


class BrokerProblem(BrokerError):
    """The doctor could not talk to the broker: `what` is wrong and `fix` says how to mend it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what, self.fix = what, fix


class _Subacked:
    """The broker answered a subscription with these reason codes (only the doctor listens for it)."""

    def __init__(self, codes: list[Any]) -> None:
        self.codes = codes


def connect(settings: Settings, subscriptions: tuple[str, ...] = (), timeout: float = BROKER_TIMEOUT) \
        -> tuple[Any, queue.SimpleQueue[object]]:
    """A connected MqttLink and its inbox, or BrokerProblem; every wait bounded by `timeout`."""
    from device.adapters.network.mqtt import MqttLink, random_client_id

    m = settings.mqtt
    inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
    try:
        link = MqttLink(m, random_client_id(f"{settings.device.id}-doctor"), inbox.put, subscriptions, clean=True)
    except ConfigError as exc:
        raise BrokerProblem(*split_message(str(exc), f"fix [mqtt] {in_config(settings)}")) from None
    link.client.on_subscribe = lambda client, userdata, mid, codes, props: inbox.put(_Subacked(list(codes)))
    link.client.connect_timeout = timeout
    where = f"{link.host}:{link.port}"
    fix_url = f"fix [mqtt] broker {in_config(settings)}"
    try:
        # MQTT 5 asks for a clean session here; MQTT 3.1.1 brokers (amqtt) got it from clean=True above,
        # and paho refuses clean_start with them.
        if link.v5:
            link.client.connect(link.host, link.port, keepalive=m.keepalive_seconds, clean_start=True)
        else:
            link.client.connect(link.host, link.port, keepalive=m.keepalive_seconds)
    except ssl.SSLError as exc:
        raise BrokerProblem(f"TLS with the broker at {where} failed ({getattr(exc, 'reason', None) or exc})",
                            "check [mqtt] ca_file (the CA that signed the broker's certificate), the host name in "
                            "[mqtt] broker, that the port speaks TLS (8883), and the clock") from None
    except (ConnectionResetError, ConnectionAbortedError) as exc:
        if not link.tls:
            raise BrokerProblem(f"broker {where} closed the connection ({exc.strerror or exc})",
                                "if that port speaks TLS, use mqtts:// in [mqtt] broker") from None
        raise BrokerProblem(f"TLS with the broker at {where} failed: it closed the connection ({exc.strerror or exc})",
                            "check that the port speaks TLS (8883, not 1883) or use mqtt:// for a plain port on "
                            "this machine") from None
    except socket.gaierror as exc:
        raise BrokerProblem(f"broker host {link.host!r} is not known ({exc.strerror})",
                            f"{fix_url}, or check the network and DNS") from None
    except OSError as exc:
        raise BrokerProblem(f"broker {where} is unreachable ({exc.strerror or exc})",
                            f"start the broker (sudo systemctl start mosquitto), check the network, or {fix_url}") \
            from None
    except ValueError as exc:
        raise BrokerProblem(f"broker {m.broker} cannot be used ({exc})", fix_url) from None
    link.client.loop_start()
    try:
        item = _next(inbox, (BrokerUp, BrokerDown), time.monotonic() + timeout)
        if item is None:
            raise BrokerProblem(f"no MQTT answer from {where} within {timeout:g} s",
                                "check that the port is the broker's (1883 plain, 8883 TLS) and that mqtt:// or "
                                "mqtts:// matches it")
        if isinstance(item, BrokerDown):
            if item.reason in REFUSED_CREDENTIALS:
                raise BrokerProblem(f"broker refused the credentials ({item.reason}) of user "
                                    f"{m.username or '(none)'} at {where}",
                                    "check [mqtt] username and password_file (scripts/broker-accounts made them)")
            raise BrokerProblem(f"broker at {where} refused the connection ({item.reason})",
                                "look at the broker's log (journalctl -u mosquitto); if that port speaks TLS, "
                                "use mqtts://")
    except BaseException:
        link.stop()
        raise
    return link, inbox


def _next(inbox: queue.SimpleQueue[object], kinds: tuple[type, ...], deadline: float) -> object | None:
    """The next inbox item of one of `kinds` before `deadline`, else None."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            item = inbox.get(timeout=left)
        except queue.Empty:
            return None
        if isinstance(item, kinds):
            return item


def check_broker(settings: Settings, timeout: float = BROKER_TIMEOUT) -> Result:
    """The broker accepts the device's credentials, and its ACL lets it subscribe to its own topics."""
    name = "broker"
    topics = Topics(settings.mqtt.topic_prefix, settings.device.id)
    wanted = (topics.order_status, topics.catalog)
    start = time.monotonic()
    try:
        link, inbox = connect(settings, wanted, timeout)
    except BrokerProblem as p:
        return failed(name, p.what, p.fix)
    try:
        elapsed = time.monotonic() - start
        suback = _next(inbox, (_Subacked,), time.monotonic() + timeout)
    finally:
        link.stop()
    m = settings.mqtt
    who = f"user {m.username}" if m.username else "no username"
    detail = f"{m.broker} accepted {who}{' over TLS' if link.tls else ''} in {elapsed:.2f} s"
    if not isinstance(suback, _Subacked):
        return warned(name, f"{detail}, but it did not answer the subscriptions within {timeout:g} s",
                      "look at the broker's log (journalctl -u mosquitto)")
    refused = [t for t, code in zip(wanted, suback.codes) if getattr(code, "is_failure", False)]
    acl = "the broker's ACL (scripts/broker-accounts) gives each account the topics of the device named like it"
    if refused:
        return failed(name, f"{detail}, but it refuses the subscription to {', '.join(refused)}",
                      f"{acl}: use the account of device {settings.device.id}")
    if m.username and m.username != settings.device.id:
        # Mosquitto grants such subscriptions and then delivers nothing, so this is only a warning.
        return warned(name, f"{detail}, but the device id is {settings.device.id}: order-status and catalogue "
                      f"messages may never arrive", f"{acl}: set [device] id = \"{m.username}\" or use the account "
                      f"of {settings.device.id}")
    return passed(name, detail)


def _describe(catalogue: Catalogue, where: str, language: str) -> tuple[str, int]:
    """One-line summary of a catalogue, and how many items have no names in `language`."""
    unnamed = sum(1 for item in catalogue.items if not item.names_for(language))
    return (f"{where}: version {catalogue.version}, {len(catalogue.items)} items in {catalogue.currency}",
            unnamed)


def _result(catalogue: Catalogue, where: str, settings: Settings) -> Result:
    """Pass, or warn when some items cannot be named in the device's language."""
    detail, unnamed = _describe(catalogue, where, settings.language)
    if not catalogue.items or unnamed == len(catalogue.items):
        return warned("catalogue", f"{detail}: none can be ordered in {settings.device.locale}",
                      f"add \"{settings.language}\" names to its items")
    if unnamed:
        return warned("catalogue", f"{detail}: {unnamed} have no \"{settings.language}\" names and cannot be "
                      "ordered by voice", f"add \"{settings.language}\" names to them")
    return passed("catalogue", detail)


def check_catalogue(settings: Settings, timeout: float = CATALOGUE_TIMEOUT, ask_broker: bool = True) -> Result:
    """A catalogue file is configured and valid, else a cached one, else the retained one arrives from the broker."""
    name = "catalogue"
    st = settings.storage
    if st.catalog:
        try:
            return _result(Catalogue.load(st.catalog), f"file {st.catalog}", settings)
        except CatalogueError as exc:
            what, fix = split_message(str(exc), f"fix it, or set [storage] catalog {in_config(settings)}")
            return failed(name, what, fix)
    cache = st.catalog_cache_path()
    unusable = ""
    if cache.exists():
        try:
            return _result(Catalogue.load(cache), f"cached {cache}", settings)
        except CatalogueError as exc:
            unusable = f" (the cache {cache} is unusable: {split_message(str(exc), '')[0]})"
    none_here = f"no [storage] catalog file and no cached catalogue{unusable or f' at {cache}'}"
    fix = f"publish one retained for {settings.device.id} (reorder store-backend --catalog FILE) or set " \
          f"[storage] catalog"
    if not ask_broker:
        return failed(name, f"{none_here}, and the broker cannot be asked (see the broker line)", fix)
    topic = Topics(settings.mqtt.topic_prefix, settings.device.id).catalog
    try:
        link, inbox = connect(settings, (topic,), timeout)
    except BrokerProblem as p:
        return failed(name, f"{none_here}, and the broker cannot be asked ({p.what})", fix)
    try:
        message = _next(inbox, (Message,), time.monotonic() + timeout)
    finally:
        link.stop()
    if not isinstance(message, Message):
        return failed(name, f"{none_here}, and none is retained on {topic} (waited {timeout:g} s)", fix)
    try:
        catalogue = Catalogue.from_payload(schemas.loads(message.payload), source=f"the catalogue retained on {topic}")
    except CatalogueError as exc:  # before ValueError: it is one
        return failed(name, str(exc), "re-publish a valid reorder.catalog/1 (reorder store-backend --catalog FILE)")
    except (ValueError, UnicodeDecodeError) as exc:
        return failed(name, f"the catalogue retained on {topic} is not JSON ({exc})", f"re-publish it; {fix}")
    return _result(catalogue, f"retained on {topic}", settings)
