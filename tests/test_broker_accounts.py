"""scripts/broker-accounts: the accounts and ACL it writes, enforced by a real Mosquitto."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from device.contract.catalogue import Catalogue
from device.errors import BrokerError
from device.store import StoreBackend
from tests.conftest import Mosquitto, free_port, wait_for_port
from tests.support import Recorder

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "broker-accounts"
EXAMPLES = ROOT / "firmware_config" / "mosquitto"
DEVICES = "reorder/v1/devices"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    out = tmp_path / "accounts"
    done = run_script("--out", str(out), "kitchen-01", "hall-02")
    assert done.returncode == 0, done.stderr
    return out


def password(accounts: Path, name: str) -> str:
    return (accounts / "passwords" / name).read_text().strip()


def start_secured(broker: Mosquitto, config: str) -> Mosquitto:
    """Start `broker` on `config`, not conftest's (which lets anonymous clients in); waits for broker.port."""
    workdir = broker.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "secured.conf"
    # As root, Mosquitto drops to the mosquitto user, who cannot read pytest's 0700 folders.
    conf.write_text(config + "\nuser root\nlog_dest stderr\n")
    log = open(workdir / "mosquitto.log", "ab")
    broker.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_for_port(broker.port)
    except TimeoutError:
        broker.stop()
        raise AssertionError((workdir / "mosquitto.log").read_text()) from None
    return broker


@pytest.fixture
def broker(tmp_path: Path, accounts: Path):
    secured = Mosquitto(tmp_path / "mosquitto")
    start_secured(secured, f"listener {secured.port} 127.0.0.1\nallow_anonymous false\n"
                  f"password_file {accounts}/passwd\nacl_file {accounts}/acl\n")
    yield secured
    secured.stop()


class Account(Recorder):
    """A paho MQTT 5 client logged in with one account, recording what it receives."""

    def __init__(self, port: int, username: str | None, secret: str | None, **tls: Any) -> None:
        super().__init__()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, secret)
        if tls:
            self.client.tls_set(**tls)
        connected = threading.Event()
        self.reason: Any = None

        def on_connect(client, userdata, flags, reason, props):
            self.reason = reason
            connected.set()

        self.client.on_connect = on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert connected.wait(5), "no CONNACK"

    def subscribe(self, *topics: str) -> list:
        done, granted = threading.Event(), []
        self.client.on_subscribe = lambda c, u, mid, reasons, p: (granted.extend(reasons), done.set())
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(5), "no SUBACK"
        return granted

    def publish(self, topic: str, payload: dict) -> None:
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        info.wait_for_publish(5)


@pytest.fixture
def login(broker):
    made: list[Account] = []

    def make(username: str | None, secret: str | None, **tls: Any) -> Account:
        made.append(Account(broker.port, username, secret, **tls))
        return made[-1]

    yield make
    for account in made:
        account.close()


def order(device_id: str) -> dict[str, Any]:
    return {"schema": "reorder.order/1", "order_id": str(uuid.uuid4()), "device_id": device_id,
            "created_at": "2026-11-22T13:00:00Z", "items": [{"sku": "MILK-1L", "quantity": 2, "unit_price": 1.15}],
            "total": 2.30, "currency": "EUR"}


def test_writes_mosquitto_password_entries_private_passwords_and_the_example_acl(accounts):
    lines = (accounts / "passwd").read_text().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["store", "kitchen-01", "hall-02"]
    for line in lines:
        name, _, iterations, salt, digest = re.fullmatch(r"([^:]+):\$(7)\$(\d+)\$([^$]+)\$([^$]+)", line).groups()
        expected = hashlib.pbkdf2_hmac("sha512", password(accounts, name).encode(), base64.b64decode(salt),
                                       int(iterations))
        assert base64.b64decode(digest) == expected and len(base64.b64decode(salt)) == 12
    for secret in (accounts / "passwords").iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o700
    assert (accounts / "acl").read_text() == (EXAMPLES / "acl.example").read_text()


def test_refuses_to_overwrite_bad_ids_and_repeats_in_one_line(accounts, tmp_path):
    before = (accounts / "passwd").read_text()
    refused = run_script("--out", str(accounts), "kitchen-01")
    assert refused.returncode == 2 and "--force" in refused.stderr and refused.stderr.count("\n") == 1
    assert (accounts / "passwd").read_text() == before
    for ids, message in [(["kitchen/01"], "must be 1-64 letters"), (["store"], "store account"),
                         (["a", "a"], "listed twice"), ([], "no device ids")]:
        done = run_script("--out", str(tmp_path / "other"), *ids)
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    ids_file = tmp_path / "devices.txt"
    ids_file.write_text("# the house\nporch-03\n\nattic-04  # upstairs\n")
    redone = run_script("--out", str(accounts), "--force", "--devices-file", str(ids_file))
    assert redone.returncode == 0, redone.stderr
    assert sorted(p.name for p in (accounts / "passwords").iterdir()) == ["attic-04", "porch-03", "store"]
    assert (accounts / "passwd").read_text() != before


def test_mosquitto_lets_each_device_use_only_its_own_topics(broker, accounts, login, tmp_path, catalog_path):
    received: list[dict] = []
    store = StoreBackend(broker.url, tmp_path / "store.db", catalogue=Catalogue.load(catalog_path),
                         username="store", password=password(accounts, "store"),
                         on_order=lambda o, a: received.append(o)).start()
    try:
        kitchen = login("kitchen-01", password(accounts, "kitchen-01"))
        hall = login("hall-02", password(accounts, "hall-02"))
        assert not kitchen.reason.is_failure and not hall.reason.is_failure
        # Mosquitto 2.0 grants the subscription and then withholds what the ACL does not allow.
        kitchen.subscribe(f"{DEVICES}/kitchen-01/order-status", f"{DEVICES}/hall-02/order-status",
                          f"{DEVICES}/hall-02/catalog")
        snoop = login("kitchen-01", password(accounts, "kitchen-01"))
        snoop.subscribe(f"{DEVICES}/+/order-status", f"{DEVICES}/+/catalog")
        hall.subscribe(f"{DEVICES}/hall-02/order-status")
        store.publish_catalog("hall-02", Catalogue.load(catalog_path))
        hall_order = order("hall-02")
        hall.publish(f"{DEVICES}/hall-02/orders", hall_order)
        assert [(t, m["status"]) for t, m in hall.wait_for(1)] == [(f"{DEVICES}/hall-02/order-status", "accepted")]

        forged = order("hall-02")
        kitchen.publish(f"{DEVICES}/hall-02/orders", forged)
        own = order("kitchen-01")
        kitchen.publish(f"{DEVICES}/kitchen-01/orders", own)
        got = kitchen.wait_for(1)
        assert [(t, m["order_id"], m["status"]) for t, m in got] == [
            (f"{DEVICES}/kitchen-01/order-status", own["order_id"], "accepted")]
        kitchen.wait_for(2, timeout=1.0)  # nothing more may come: not hall-02's status nor its catalogue
        assert len(kitchen.messages) == 1
        assert sorted(t for t, _ in snoop.wait_for(3, timeout=1.0)) == [
            f"{DEVICES}/kitchen-01/catalog", f"{DEVICES}/kitchen-01/order-status"]
        assert [o["order_id"] for o in received] == [hall_order["order_id"], own["order_id"]]
        assert store.order(forged["order_id"]) is None
    finally:
        store.stop()


def test_mosquitto_refuses_wrong_passwords_and_anonymous_clients(broker, accounts, login, tmp_path):
    assert login("kitchen-01", password(accounts, "hall-02")).reason.is_failure
    assert login("kitchen-01", "guess").reason.is_failure
    assert login(None, None).reason.is_failure
    with pytest.raises(BrokerError, match="refused the connection"):
        StoreBackend(broker.url, tmp_path / "store.db", username="store", password="guess").start()


def test_example_mosquitto_config_serves_tls_and_local_plain_mqtt(accounts, tmp_path, catalog_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(certs / "server.key"),
                    "-out", str(certs / "server.crt")], check=True, capture_output=True, timeout=60)
    for name in ("passwd", "acl"):
        (certs / name).write_bytes((accounts / name).read_bytes())
    tls_port, plain_port = free_port(), free_port()
    config = ((EXAMPLES / "reorder.conf").read_text()
              .replace("/etc/mosquitto/reorder/", f"{certs}/").replace("/var/lib/mosquitto/", f"{tmp_path}/")
              .replace("log_dest syslog", "").replace("listener 8883", f"listener {tls_port}")
              .replace("listener 1883 127.0.0.1", f"listener {plain_port} 127.0.0.1"))
    assert f"listener {tls_port}" in config and f"listener {plain_port} 127.0.0.1" in config
    broker = start_secured(Mosquitto(tmp_path / "mosquitto", port=plain_port), config)
    wait_for_port(tls_port)
    try:
        ca = certs / "server.crt"
        with StoreBackend(f"mqtts://127.0.0.1:{tls_port}", tmp_path / "store.db", ca_file=ca, username="store",
                          password=password(accounts, "store"), catalogue=Catalogue.load(catalog_path)):
            kitchen = Account(tls_port, "kitchen-01", password(accounts, "kitchen-01"), ca_certs=str(ca))
            local = Account(plain_port, "hall-02", password(accounts, "hall-02"))
            try:
                kitchen.subscribe(f"{DEVICES}/kitchen-01/order-status")
                local.subscribe(f"{DEVICES}/hall-02/order-status")
                kitchen.publish(f"{DEVICES}/kitchen-01/orders", order("kitchen-01"))
                local.publish(f"{DEVICES}/hall-02/orders", order("hall-02"))
                assert [m["status"] for _, m in kitchen.wait_for(1)] == ["accepted"]
                assert [m["status"] for _, m in local.wait_for(1)] == ["accepted"]
            finally:
                kitchen.close()
                local.close()
        with pytest.raises(BrokerError, match="cannot reach"):  # TLS is checked: no CA, no connection
            StoreBackend(f"mqtts://127.0.0.1:{tls_port}", tmp_path / "other.db", username="store",
                         password=password(accounts, "store")).start()
    finally:
        broker.stop()


def test_a_home_assistant_account_sees_state_and_stats_flips_mute_and_cannot_order(tmp_path, catalog_path):
    out = tmp_path / "with-ha"
    done = run_script("--out", str(out), "--home-assistant-user", "homeassistant", "kitchen-01", "hall-02")
    assert done.returncode == 0, done.stderr
    assert (out / "acl").read_text().startswith((EXAMPLES / "acl.example").read_text())
    broker = Mosquitto(tmp_path / "mosquitto")
    start_secured(broker, f"listener {broker.port} 127.0.0.1\nallow_anonymous false\n"
                  f"password_file {out}/passwd\nacl_file {out}/acl\n")
    store = StoreBackend(broker.url, tmp_path / "store.db", catalogue=Catalogue.load(catalog_path),
                         username="store", password=password(out, "store")).start()
    accounts: list[Account] = []
    try:
        kitchen = Account(broker.port, "kitchen-01", password(out, "kitchen-01"))
        ha = Account(broker.port, "homeassistant", password(out, "homeassistant"))
        accounts += [kitchen, ha]
        kitchen.subscribe(f"{DEVICES}/kitchen-01/mute")
        ha.subscribe(f"{DEVICES}/+/state", f"{DEVICES}/+/stats", "homeassistant/#", f"{DEVICES}/+/orders",
                     f"{DEVICES}/+/order-status", f"{DEVICES}/+/catalog")
        kitchen.publish(f"{DEVICES}/kitchen-01/state", {"schema": "reorder.state/1"})
        kitchen.publish(f"{DEVICES}/kitchen-01/stats", {"schema": "reorder.stats/1"})
        kitchen.publish("homeassistant/sensor/kitchen-01/wakes/config", {"name": "Wakes"})
        kitchen.publish("homeassistant/sensor/hall-02/wakes/config", {"name": "forged"})  # not its own: denied
        kitchen.publish(f"{DEVICES}/hall-02/stats", {"schema": "forged"})  # not its own: denied
        own = order("kitchen-01")
        kitchen.publish(f"{DEVICES}/kitchen-01/orders", own)
        forged = order("kitchen-01")
        ha.publish(f"{DEVICES}/kitchen-01/orders", forged)  # Home Assistant cannot order
        ha.publish(f"{DEVICES}/kitchen-01/mute", "ON")
        assert [(t, m) for t, m in kitchen.wait_for(1)] == [(f"{DEVICES}/kitchen-01/mute", "ON")]
        got = ha.wait_for(3)
        ha.wait_for(4, timeout=1.0)  # nothing more may come: no order, no status, no forgery
        assert sorted(t for t, _ in got) == sorted(t for t, _ in ha.messages) == sorted([
            f"{DEVICES}/kitchen-01/state", f"{DEVICES}/kitchen-01/stats",
            "homeassistant/sensor/kitchen-01/wakes/config"])
        assert store.order(own["order_id"])["status"] == "accepted"
        assert store.order(forged["order_id"]) is None
    finally:
        for account in accounts:
            account.close()
        store.stop()
        broker.stop()


def test_the_household_acl_takes_state_stats_and_discovery_from_a_device_and_never_an_order(tmp_path):
    out = tmp_path / "household"
    assert run_script("--out", str(out), "--home-assistant-user", "homeassistant", "kitchen-01").returncode == 0
    broker = Mosquitto(tmp_path / "mosquitto")
    start_secured(broker, f"listener {broker.port} 127.0.0.1\nallow_anonymous false\n"
                  f"password_file {out}/passwd\nacl_file {EXAMPLES}/household-acl.example\n")
    accounts: list[Account] = []
    try:
        kitchen = Account(broker.port, "kitchen-01", password(out, "kitchen-01"))
        ha = Account(broker.port, "homeassistant", password(out, "homeassistant"))
        accounts += [kitchen, ha]
        ha.subscribe(f"{DEVICES}/#", "homeassistant/#")
        kitchen.subscribe(f"{DEVICES}/kitchen-01/mute", f"{DEVICES}/kitchen-01/order-status")
        answers: dict[int, Any] = {}
        kitchen.client.on_publish = lambda c, u, mid, reason, props: answers.__setitem__(mid, reason)
        sent = {}
        for leaf in ("orders", "cancel", "state", "stats"):
            info = kitchen.client.publish(f"{DEVICES}/kitchen-01/{leaf}", json.dumps({"leaf": leaf}), qos=1)
            info.wait_for_publish(5)
            sent[leaf] = info.mid
        kitchen.publish("homeassistant/switch/kitchen-01/mute/config", {"leaf": "config"})
        refused = {leaf for leaf, mid in sent.items() if answers[mid].is_failure}
        assert refused == {"orders", "cancel"}, {leaf: str(answers[mid]) for leaf, mid in sent.items()}
        ha.publish(f"{DEVICES}/kitchen-01/order-status", {"status": "accepted"})
        ha.publish(f"{DEVICES}/kitchen-01/mute", "OFF")
        assert kitchen.wait_for(1) == [(f"{DEVICES}/kitchen-01/mute", "OFF")]
        ha.wait_for(4, timeout=1.5)
        assert sorted(m["leaf"] for t, m in ha.messages if isinstance(m, dict) and "leaf" in m) == [
            "config", "state", "stats"]
        assert len(kitchen.messages) == 1
    finally:
        for account in accounts:
            account.close()
        broker.stop()
