"""scripts/provision: every file, mode and value on a fake boot partition; bad input; --force.

The broker entries are checked against the real mosquitto_passwd and a real Mosquitto, the
Wi-Fi keyfile against NetworkManager's own parser (when nmcli is installed), the client
certificate against openssl and a real TLS broker.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from device import config as device_config
from tests.conftest import free_port, wait_for_port
from tests.support import load_script

ROOT = Path(__file__).resolve().parents[1]
PROVISION = ROOT / "scripts" / "provision"
sys.path.insert(0, str(ROOT / "scripts"))
import mosquitto_passwd  # noqa: E402

CMDLINE = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes "
           "rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n")
HOOK = "systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"
# IEEE 802.11i-2004, annex H.4: passphrase "password", SSID "IEEE".
PSK_VECTOR = ("IEEE", "password", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e")
PICOVOICE_KEY = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=="
IMAGER_FIRSTRUN = """#!/bin/bash

set +e

CURRENT_HOSTNAME=`cat /etc/hostname | tr -d " \\t\\n\\r"`
if [ -f /usr/lib/raspberrypi-sys-mods/imager_custom ]; then
   /usr/lib/raspberrypi-sys-mods/imager_custom set_hostname pantry
fi
rm -f /boot/firstrun.sh
sed -i 's| systemd.run.*||g' /boot/cmdline.txt
exit 0
"""


def load_provision():
    """scripts/provision as a module (it has no .py suffix)."""
    return load_script(PROVISION, "provision_script")


def mode(path: Path) -> int:
    """Permission bits of a file."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    """A fresh Raspberry Pi OS Bookworm boot partition (as far as provision can tell)."""
    folder = tmp_path / "bootfs"
    folder.mkdir()
    (folder / "cmdline.txt").write_text(CMDLINE)
    (folder / "config.txt").write_text("[all]\ndtparam=audio=on\n")
    return folder


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Files an installer passes: Wi-Fi passphrase, SSH public key, Picovoice key."""
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "wifi-pass").write_text("correct horse battery\n")
    (d / "id_ed25519.pub").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhOQYzI0q3hQ0KNnFnRjPqV6gQVX8c7HqBKBEt2k2w7 installer@laptop\n")
    (d / "picovoice.txt").write_text(PICOVOICE_KEY + "\n")
    return d


def provision(boot: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run scripts/provision BOOT ARGS (with this interpreter, so device.config is importable)."""
    return subprocess.run([sys.executable, str(PROVISION), str(boot), *args], capture_output=True, text=True,
                          input=stdin if stdin is not None else "", timeout=120, check=False)


def basic_args(device_id: str = "kitchen-01") -> list[str]:
    return ["--device-id", device_id, "--broker", "mqtts://store.example.net:8883"]


def test_writes_every_file_with_its_mode_and_value(boot: Path, inputs: dict[str, Path]) -> None:
    result = provision(boot, *basic_args(), "--locale", "fr-FR", "--wifi-ssid", "Maison",
                       "--wifi-passphrase-file", str(inputs / "wifi-pass"), "--ssh-pubkey",
                       str(inputs / "id_ed25519.pub"), "--picovoice-key-file", str(inputs / "picovoice.txt"))
    assert result.returncode == 0, result.stderr
    r = boot / "reorder"
    secrets_600 = ["mqtt-password", "picovoice.key", "wifi.nmconnection"]
    for name in secrets_600:
        assert mode(r / name) == 0o600, name
    for name in ["device.toml", "authorized_keys", "firstboot.conf", "provision.json"]:
        assert mode(r / name) == 0o644, name
    assert mode(r / "firstboot.sh") == 0o755 and mode(boot / "firstrun.sh") == 0o755
    assert not (r / "client.key").exists() and not (r / "ca.pem").exists()

    # The config is what the device itself accepts, with every value we gave.
    settings = device_config.load(r / "device.toml")
    assert (settings.device.id, settings.device.locale) == ("kitchen-01", "fr-FR")
    assert (settings.wake.engine, settings.wake.keyword) == ("porcupine", "jarvis")
    assert settings.wake.access_key_file == "/etc/reorder/picovoice.key"
    assert settings.mqtt.broker == "mqtts://store.example.net:8883"
    assert (settings.mqtt.username, settings.mqtt.password_file) == ("kitchen-01", "/etc/reorder/mqtt-password")
    assert settings.mqtt.topic_prefix == "reorder/v1" and settings.mqtt.ca_file == ""
    assert (r / "picovoice.key").read_text() == PICOVOICE_KEY + "\n"

    # The printed password line verifies the generated password; the ACL is the device's own topics.
    password = (r / "mqtt-password").read_text().strip()
    assert len(password) >= 40
    out = result.stdout.splitlines()
    line = next(x for x in out if x.startswith("kitchen-01:$7$101$"))
    assert mosquitto_passwd.verify_password(password, line.split(":", 1)[1])
    assert not mosquitto_passwd.verify_password(password + "x", line.split(":", 1)[1])
    assert password not in result.stdout + result.stderr
    acl = out[out.index("user kitchen-01"):]
    assert acl == ["user kitchen-01",
                   "topic write reorder/v1/devices/kitchen-01/orders",
                   "topic write reorder/v1/devices/kitchen-01/cancel",
                   "topic write reorder/v1/devices/kitchen-01/state",
                   "topic write reorder/v1/devices/kitchen-01/stats",
                   "topic write homeassistant/+/kitchen-01/+/config",
                   "topic read reorder/v1/devices/kitchen-01/order-status",
                   "topic read reorder/v1/devices/kitchen-01/catalog",
                   "topic read reorder/v1/devices/kitchen-01/mute"]

    # Wi-Fi: a NetworkManager keyfile with the WPA PSK (not the passphrase), country from the locale.
    keyfile = (r / "wifi.nmconnection").read_text()
    assert "ssid=Maison\n" in keyfile and "key-mgmt=wpa-psk\n" in keyfile and "type=wifi\n" in keyfile
    assert "correct horse" not in keyfile
    prov = load_provision()
    assert f"psk={prov.wifi_psk('Maison', 'correct horse battery')}\n" in keyfile
    uuid.UUID(next(x for x in keyfile.splitlines() if x.startswith("uuid="))[5:])

    # cmdline.txt: still one line, the original tokens, the country, then the hook last (once).
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("\n") == 1 and cmdline.endswith(f" cfg80211.ieee80211_regdom=FR {HOOK}\n")
    assert cmdline.startswith(CMDLINE.strip() + " ")

    # firstrun.sh: Imager's shape, ending with Imager's clean-up lines.
    firstrun = (boot / "firstrun.sh").read_text().splitlines()
    assert firstrun[0] == "#!/bin/bash"
    assert firstrun[-3:] == ["rm -f /boot/firstrun.sh", "sed -i 's| systemd.run.*||g' /boot/cmdline.txt", "exit 0"]
    assert any('bash "$d/reorder/firstboot.sh" "$d"' in x for x in firstrun)

    show = (f'. "{r}/firstboot.conf"; '
            'echo "$REORDER_HOSTNAME|$REORDER_WIFI_COUNTRY|$REORDER_SSH_USER|$REORDER_WHEEL|$REORDER_TRUST_UNVERIFIED"')
    conf = subprocess.run(["bash", "-c", show],
                          capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    assert conf == "kitchen-01|FR|pi||0"
    assert (r / "authorized_keys").read_text() == (inputs / "id_ed25519.pub").read_text()
    record = json.loads((r / "provision.json").read_text())
    assert record["device_id"] == "kitchen-01" and record["credentials"] == "password" and record["wifi"]

    # The project, for install.sh on the Pi.
    for rel in ["pyproject.toml", "scripts/install.sh", "scripts/model_fetch.py", "models/manifest.json",
                "firmware_config/reorder.service", "device/__init__.py", "device/config.py"]:
        assert (r / "src" / rel).is_file(), rel
    assert not list((r / "src").rglob("__pycache__"))
    assert "provisioned kitchen-01" in result.stderr


def test_password_hash_is_mosquitto_passwd_format(tmp_path: Path) -> None:
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "kitchen-01", "s3cret pass"], check=True, timeout=30)
    theirs = passwd.read_text().strip()
    salt = mosquitto_passwd.base64.b64decode(theirs.split("$")[3])
    assert mosquitto_passwd.password_line("kitchen-01", "s3cret pass", salt) == theirs
    assert mosquitto_passwd.verify_password("s3cret pass", theirs.split(":", 1)[1])


class Client:
    """A paho client for these tests: connects with credentials or a certificate, records messages."""

    def __init__(self, port: int, username: str = "", password: str | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        if username:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.cond = threading.Condition()
        self.topics: list[str] = []
        self.connack = None
        self.subacks: set[int] = set()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        with self.cond:
            self.cond.wait_for(lambda: self.connack is not None, 10)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self.cond:
            self.connack = reason_code
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self.cond:
            self.subacks.add(mid)
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.topics.append(msg.topic)
            self.cond.notify_all()

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, *topics: str) -> None:
        """Subscribe (QoS 1) and wait for each SUBACK."""
        for topic in topics:
            _, mid = self.client.subscribe(topic, qos=1)
            with self.cond:
                assert self.cond.wait_for(lambda mid=mid: mid in self.subacks, 10), f"no SUBACK for {topic}"

    def publish(self, topic: str, retain: bool = False) -> None:
        self.client.publish(topic, b'{"schema": "test"}', qos=1, retain=retain).wait_for_publish(10)

    def wait_for(self, topic: str, timeout: float = 10.0) -> list[str]:
        """Wait until a message on `topic` arrived; returns every topic received so far."""
        with self.cond:
            assert self.cond.wait_for(lambda: topic in self.topics, timeout), f"nothing on {topic}: {self.topics}"
            return list(self.topics)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _start_mosquitto(workdir: Path, body: str, port: int) -> subprocess.Popen:
    conf = workdir / "mosquitto.conf"
    # As root, Mosquitto would switch to the "mosquitto" user, who cannot read our 0600 files.
    conf.write_text(f"user {getpass.getuser()}\nper_listener_settings false\n{body}\nlog_dest stderr\n")
    with open(workdir / "mosquitto.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise AssertionError((workdir / "mosquitto.log").read_text()) from None
    return proc


def test_real_broker_accepts_the_credentials_and_enforces_the_acl(boot: Path, tmp_path: Path) -> None:
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text(mosquitto_passwd.password_line("store", "store-pw") + "\n")
    acl.write_text("user store\ntopic readwrite reorder/v1/#\n")
    result = provision(boot, "--device-id", "kitchen-01", "--broker", "mqtt://127.0.0.1:1883",
                       "--passwd-file", str(passwd), "--acl-file", str(acl))
    assert result.returncode == 0, result.stderr
    assert "$7$" not in result.stdout and "added kitchen-01" in result.stderr
    port = free_port()
    proc = _start_mosquitto(tmp_path, f"listener {port} 127.0.0.1\nallow_anonymous false\n"
                                      f"password_file {passwd}\nacl_file {acl}", port)
    clients: list[Client] = []
    try:
        store = Client(port, "store", "store-pw")
        clients.append(store)
        assert store.accepted
        store.subscribe("reorder/v1/devices/+/orders")
        for device in ("other-02", "kitchen-01"):
            store.publish(f"reorder/v1/devices/{device}/catalog", retain=True)
        password = (boot / "reorder" / "mqtt-password").read_text().strip()
        device = Client(port, "kitchen-01", password)
        clients.append(device)
        assert device.accepted, device.connack
        # Reads: the other device's retained catalogue is never delivered, its own is. Forbidden
        # first, so that once the allowed message is in, a leak would have arrived too.
        device.subscribe("reorder/v1/devices/other-02/catalog", "reorder/v1/devices/+/catalog",
                         "reorder/v1/devices/kitchen-01/catalog")
        assert set(device.wait_for("reorder/v1/devices/kitchen-01/catalog")) == {
            "reorder/v1/devices/kitchen-01/catalog"}
        # Writes: only its own orders reach the store.
        device.publish("reorder/v1/devices/other-02/orders")
        device.publish("reorder/v1/devices/kitchen-01/catalog")
        device.publish("reorder/v1/devices/kitchen-01/orders")
        assert store.wait_for("reorder/v1/devices/kitchen-01/orders") == ["reorder/v1/devices/kitchen-01/orders"]
        wrong = Client(port, "kitchen-01", password + "x")
        clients.append(wrong)
        assert not wrong.accepted
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(timeout=10)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(d: Path) -> tuple[Path, Path]:
    """A throw-away CA (EC P-256) as an installer would have."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
             "-subj", "/CN=Test Store CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    return d / "ca.crt", d / "ca.key"


def test_client_certificate_signed_by_the_installers_ca(boot: Path, tmp_path: Path) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    ca_cert, ca_key = make_ca(tmp_path)
    acl = tmp_path / "acl"
    result = provision(boot, "--device-id", "kitchen-01", "--broker", "mqtts://127.0.0.1:8883",
                       "--ca-cert", str(ca_cert), "--ca-key", str(ca_key), "--acl-file", str(acl))
    assert result.returncode == 0, result.stderr
    r = boot / "reorder"
    assert mode(r / "client.key") == 0o600 and mode(r / "client.crt") == 0o644 and mode(r / "ca.pem") == 0o644
    assert not (r / "mqtt-password").exists()
    assert (r / "ca.pem").read_bytes() == ca_cert.read_bytes()
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(ca_cert), str(r / "client.crt")],
                            capture_output=True, text=True, timeout=30, check=False)
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(["openssl", "x509", "-in", str(r / "client.crt"), "-noout", "-subject", "-ext",
                           "extendedKeyUsage"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert "CN = kitchen-01" in text or "CN=kitchen-01" in text
    assert "TLS Web Client Authentication" in text
    settings = device_config.load(r / "device.toml")
    assert (settings.mqtt.cert_file, settings.mqtt.key_file, settings.mqtt.ca_file) == (
        "/etc/reorder/client.crt", "/etc/reorder/client.key", "/etc/reorder/ca.pem")
    assert settings.mqtt.username == "" and settings.mqtt.password_file == ""
    assert "use_identity_as_username true" in result.stdout
    assert "user kitchen-01" in acl.read_text()

    # And a real TLS broker that takes the certificate's CN as the username lets it in.
    if not shutil.which("mosquitto"):
        return
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
             "/CN=127.0.0.1", "-keyout", str(tmp_path / "server.key"), "-out", str(tmp_path / "server.csr"))
    (tmp_path / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(tmp_path / "server.csr"), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "30", "-extfile", str(tmp_path / "san.cnf"), "-out",
             str(tmp_path / "server.crt"))
    passwd = tmp_path / "passwd"
    passwd.write_text(mosquitto_passwd.password_line("store", "store-pw") + "\n")
    with acl.open("a") as f:
        f.write("user store\ntopic readwrite reorder/v1/#\n")
    tls_port, plain_port = free_port(), free_port()
    proc = _start_mosquitto(tmp_path, f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                                      f"listener {plain_port} 127.0.0.1\n"
                                      f"listener {tls_port} 127.0.0.1\ncafile {ca_cert}\n"
                                      f"certfile {tmp_path}/server.crt\nkeyfile {tmp_path}/server.key\n"
                                      f"require_certificate true\nuse_identity_as_username true", tls_port)
    clients: list[Client] = []
    try:
        wait_for_port(plain_port)
        store = Client(plain_port, "store", "store-pw")
        clients.append(store)
        store.subscribe("reorder/v1/devices/+/orders")
        ctx = ssl.create_default_context(cafile=str(r / "ca.pem"))
        ctx.load_cert_chain(str(r / "client.crt"), str(r / "client.key"))
        device = Client(tls_port, tls=ctx)
        clients.append(device)
        assert device.accepted, device.connack
        device.publish("reorder/v1/devices/other-02/orders")
        device.publish("reorder/v1/devices/kitchen-01/orders")
        assert store.wait_for("reorder/v1/devices/kitchen-01/orders") == ["reorder/v1/devices/kitchen-01/orders"]
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(timeout=10)


BAD_INPUTS = [
    (["--device-id", "kitchen 01", "--broker", "mqtts://h:8883"], "--device-id"),
    (["--device-id", "k" * 65, "--broker", "mqtts://h:8883"], "--device-id"),
    (["--device-id", "k1", "--broker", "http://h:8883"], "--broker"),
    (["--device-id", "k1", "--broker", "mqtts://h:99999"], "--broker"),
    (["--device-id", "k1", "--broker", "mqtts://user:pw@h:8883"], "--broker"),
    (["--device-id", "k1", "--broker", "mqtt://store.example.net:1883"], "--allow-insecure"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--topic-prefix", "reorder/#"], "--topic-prefix"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wake-word", "hey_siri"], "--wake-word"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wake-engine", "porcupine"], "--picovoice-key-file"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--picovoice-key-file", "{missing}"], "--picovoice-key-file"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wifi-ssid", "Net", "--wifi-passphrase", "short"],
     "passphrase"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wifi-ssid", "N" * 33, "--wifi-passphrase", "longenough"],
     "--wifi-ssid"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wifi-ssid", "Net"], "--wifi-passphrase-file"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wifi-passphrase", "longenough"], "--wifi-ssid"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wifi-ssid", "Net", "--wifi-passphrase", "longenough",
      "--wifi-country", "France"], "--wifi-country"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--ssh-pubkey", "{private}"], "PRIVATE"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--ssh-pubkey", "{garbage}"], "--ssh-pubkey"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--ssh-user", "Root"], "--ssh-user"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--hostname", "Bad_Host"], "--hostname"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--ca-cert", "{garbage}"], "--ca-key"),
    (["--device-id", "k1", "--broker", "mqtt://127.0.0.1:1883", "--ca-cert", "{garbage}", "--ca-key", "{garbage}"],
     "mqtts://"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--ca-cert", "{garbage}", "--ca-key", "{garbage}"],
     "--ca-cert"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--broker-ca", "{garbage}"], "--broker-ca"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--wheel", "{garbage}"], "--wheel"),
    (["--device-id", "k1", "--broker", "mqtts://h:8883", "--username", "a b"], "--username"),
]


@pytest.mark.parametrize(("args", "names"), BAD_INPUTS, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD_INPUTS)])
def test_bad_input_is_refused_with_one_line_and_nothing_written(boot: Path, tmp_path: Path, args: list[str],
                                                                 names: str) -> None:
    (tmp_path / "private").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    (tmp_path / "garbage").write_text("not a key or certificate\n")
    args = [a.format(missing=tmp_path / "missing", private=tmp_path / "private", garbage=tmp_path / "garbage")
            for a in args]
    before = sorted(p.name for p in boot.iterdir())
    result = provision(boot, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("provision: ") and result.stderr.count("\n") == 1, result.stderr
    assert names in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sorted(p.name for p in boot.iterdir()) == before
    assert (boot / "cmdline.txt").read_text() == CMDLINE


@pytest.mark.parametrize("problem", ["missing", "not-a-boot-partition"])
def test_boot_folder_is_checked(tmp_path: Path, problem: str) -> None:
    target = tmp_path / "nope"
    if problem == "not-a-boot-partition":
        target.mkdir()
    result = provision(target, *basic_args())
    assert result.returncode == 2 and result.stderr.startswith("provision: BOOT ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_unknown_locale_is_refused_by_the_parser(boot: Path) -> None:
    result = provision(boot, *basic_args(), "--locale", "de-DE")
    assert result.returncode == 2 and "--locale" in result.stderr and "Traceback" not in result.stderr


def test_mismatched_ca_key_is_refused(boot: Path, tmp_path: Path) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca_cert, _ = make_ca(tmp_path / "a")
    _, other_key = make_ca(tmp_path / "b")
    result = provision(boot, *basic_args(), "--ca-cert", str(ca_cert), "--ca-key", str(other_key))
    assert result.returncode == 2 and "does not belong to --ca-cert" in result.stderr
    assert not (boot / "reorder").exists()


def test_force_is_needed_to_replace_a_provisioning(boot: Path, inputs: dict[str, Path], tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text("store:$7$101$AAAA$BBBB\n")
    acl.write_text("user store\ntopic read reorder/v1/devices/+/orders\n")
    first = provision(boot, *basic_args(), "--wifi-ssid", "Maison", "--wifi-passphrase-file",
                      str(inputs / "wifi-pass"), "--picovoice-key-file", str(inputs / "picovoice.txt"),
                      "--passwd-file", str(passwd), "--acl-file", str(acl))
    assert first.returncode == 0, first.stderr
    r = boot / "reorder"
    password = (r / "mqtt-password").read_text()
    snapshot = {p: p.read_bytes() for p in [*r.glob("*.*"), boot / "cmdline.txt", boot / "firstrun.sh"]}

    again = provision(boot, *basic_args("pantry-02"))
    assert again.returncode == 3
    assert again.stderr.count("\n") == 1 and "--force" in again.stderr and "kitchen-01" in again.stderr
    assert {p: p.read_bytes() for p in snapshot} == snapshot

    forced = provision(boot, *basic_args(), "--wifi-ssid", "Maison", "--wifi-country", "DE", "--wifi-passphrase-file",
                       str(inputs / "wifi-pass"), "--passwd-file", str(passwd), "--acl-file", str(acl), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (r / "mqtt-password").read_text() != password  # new credentials
    assert not (r / "picovoice.key").exists()  # nothing left over from the first provisioning
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("systemd.run=") == 1 and cmdline.count("ieee80211_regdom") == 1
    assert cmdline.endswith(f" cfg80211.ieee80211_regdom=DE {HOOK}\n")
    assert (boot / "firstrun.sh").read_bytes() == snapshot[boot / "firstrun.sh"]
    # The broker files: our user's entries replaced (not duplicated), everyone else's kept.
    lines = passwd.read_text().splitlines()
    assert lines[0] == "store:$7$101$AAAA$BBBB" and len(lines) == 2
    assert mosquitto_passwd.verify_password((r / "mqtt-password").read_text().strip(), lines[1].split(":", 1)[1])
    text = acl.read_text()
    assert text.startswith("user store\ntopic read reorder/v1/devices/+/orders\n")
    assert text.count("user kitchen-01") == 1 and text.count("# reorder device kitchen-01") == 1
    assert "replaced kitchen-01" in forced.stderr
    assert mode(passwd) == 0o644  # an existing file keeps its mode (a new one is made 0600)


def test_imager_customisation_is_kept_and_our_hook_added(boot: Path) -> None:
    (boot / "firstrun.sh").write_text(IMAGER_FIRSTRUN)
    (boot / "cmdline.txt").write_text(CMDLINE.strip() + f" cfg80211.ieee80211_regdom=GB {HOOK}\n")
    result = provision(boot, *basic_args())
    assert result.returncode == 0, result.stderr
    lines = (boot / "firstrun.sh").read_text().splitlines()
    ours = next(i for i, x in enumerate(lines) if "reorder/firstboot.sh" in x)
    assert lines[ours + 1] == "rm -f /boot/firstrun.sh"
    assert "imager_custom set_hostname pantry" in "\n".join(lines[:ours])
    assert (boot / "reorder" / "firstrun.sh.imager").read_text() == IMAGER_FIRSTRUN
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("systemd.run=") == 1 and "regdom=GB" in cmdline and cmdline.endswith(HOOK + "\n")
    forced = provision(boot, *basic_args(), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (boot / "firstrun.sh").read_text().count("# reorder-provision first-boot hook") == 1


def test_a_foreign_firstrun_or_hook_is_not_clobbered(boot: Path) -> None:
    (boot / "firstrun.sh").write_text("#!/bin/sh\necho mine\n")
    result = provision(boot, *basic_args())
    assert result.returncode == 2 and "firstrun.sh" in result.stderr
    assert (boot / "firstrun.sh").read_text() == "#!/bin/sh\necho mine\n"
    (boot / "firstrun.sh").unlink()
    shutil.rmtree(boot / "reorder", ignore_errors=True)
    (boot / "cmdline.txt").write_text(CMDLINE.strip() + " systemd.run=/boot/other.sh\n")
    result = provision(boot, *basic_args())
    assert result.returncode == 2 and "systemd.run=/boot/other.sh" in result.stderr


def test_hook_survives_the_bookworm_initramfs_fixup(boot: Path) -> None:
    """raspberrypi-sys-mods' imager_fixup rewrites an Imager hook for /boot/firmware; ours must survive it."""
    assert provision(boot, *basic_args()).returncode == 0
    script = boot / "firstrun.sh"
    # The fixup's own commands (initramfs-tools/scripts/local-bottom/imager_fixup, Bookworm).
    subprocess.run(["sed", "-i", "s|/boot/|/boot/firmware/|g", str(boot / "cmdline.txt")], check=True, timeout=10)
    subprocess.run(["sed", "-n", "-i", r"/rm.*firstrun\.sh$/q;p", str(script)], check=True, timeout=10)
    with open(script, "a") as f:
        f.write("rm -f /boot/firmware/firstrun.sh\nsed -i 's| systemd\\.[^ ]*||g' /boot/firmware/cmdline.txt\n"
                "exit 0\n")
    text = script.read_text()
    assert 'bash "$d/reorder/firstboot.sh" "$d"' in text
    assert text.count("rm -f") == 1
    assert "systemd.run=/boot/firmware/firstrun.sh" in (boot / "cmdline.txt").read_text()
    assert subprocess.run(["bash", "-n", str(script)], check=False, timeout=10).returncode == 0


def test_generated_shell_scripts_are_shellcheck_clean(boot: Path, inputs: dict[str, Path]) -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    assert provision(boot, *basic_args(), "--ssh-pubkey", str(inputs / "id_ed25519.pub")).returncode == 0
    for script in [boot / "firstrun.sh", boot / "reorder" / "firstboot.sh"]:
        result = subprocess.run(["shellcheck", "-s", "bash", str(script)], check=False, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout


def test_wheel_instead_of_the_checkout(boot: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "reorder_speaker-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    result = provision(boot, *basic_args(), "--wheel", str(wheel), "--trust-unverified")
    assert result.returncode == 0, result.stderr
    r = boot / "reorder"
    assert (r / wheel.name).read_bytes() == wheel.read_bytes()
    assert (r / "src" / "scripts" / "install.sh").is_file() and not (r / "src" / "device").exists()
    conf = (r / "firstboot.conf").read_text()
    assert f"REORDER_WHEEL={wheel.name}\n" in conf and "REORDER_TRUST_UNVERIFIED=1\n" in conf


def test_wpa_psk_and_keyfile_escaping() -> None:
    prov = load_provision()
    ssid, passphrase, psk = PSK_VECTOR
    assert prov.wifi_psk(ssid, passphrase) == psk
    assert prov.wifi_psk(ssid, psk.upper()) == psk  # a raw PSK is kept
    assert "ssid=59;\n" in prov.nm_keyfile(";", psk, False)
    assert "ssid=\\stwo\\\\three\n" in prov.nm_keyfile(" two\\three", psk, True)


@pytest.mark.parametrize("ssid", ["Maison", "Café Wi-Fi", "a;b", " leading", "back\\slash", "x=y#z"])
def test_networkmanager_reads_the_keyfile_as_intended(ssid: str) -> None:
    """NetworkManager's own parser (nmcli --offline) sees the same SSID and PSK it would write itself."""
    if not shutil.which("nmcli"):
        pytest.skip("nmcli is not installed (apt-get install network-manager)")
    prov = load_provision()
    psk = prov.wifi_psk(ssid, "longenough")

    def nm(args: list[str], stdin: str = "") -> str:
        result = subprocess.run(["nmcli", "--offline", "connection", *args], input=stdin, check=False,
                                capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def wifi_lines(keyfile: str) -> list[str]:
        return sorted(x for x in keyfile.splitlines() if x.startswith(("ssid=", "psk=", "key-mgmt=")))

    ours = nm(["modify", "connection.id", "reorder-wifi"], prov.nm_keyfile(ssid, psk, False))
    theirs = nm(["add", "type", "wifi", "con-name", "reorder-wifi", "ssid", ssid, "wifi-sec.key-mgmt", "wpa-psk",
                 "wifi-sec.psk", psk])
    assert wifi_lines(ours) == wifi_lines(theirs)
    if shutil.which("wpa_passphrase") and ssid.isascii():
        out = subprocess.run(["wpa_passphrase", ssid, "longenough"], check=False, capture_output=True, text=True,
                             timeout=10).stdout
        assert f"\tpsk={psk}" in out


def test_fat_boot_partition_without_file_modes(boot: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """On vfat chmod fails with EPERM: provisioning still works and says the card holds secrets."""
    prov = load_provision()

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse)
    monkeypatch.setattr(os, "chmod", refuse)
    assert prov.main([str(boot), *basic_args()]) == 0
    err = capsys.readouterr().err
    assert "cannot store Unix file modes" in err and "Traceback" not in err
    assert (boot / "reorder" / "mqtt-password").is_file()


# --------------------------------------------------------------------------- --prepare-model

FAKE_PYTHON = """#!/usr/bin/env python3
import json, sys
from pathlib import Path
args = sys.argv[1:]
with open(LOG, "a") as log:
    log.write(" ".join(args) + "\\n")
if args[0].endswith("model_fetch.py"):  # the manifest's model, fetched and checked
    folder = Path(args[args.index("--dest") + 1]) / "moonshine-cpp-0.1.4"
    folder.mkdir(parents=True)
    print(folder)
elif args[:2] == ["-m", "device.prepare.moonshine"]:
    if FAIL:
        sys.exit("moonshine_prepare: the [prepare] extra is missing")
    out = Path(args[args.index("--out") + 1])
    out.mkdir(parents=True)
    (out / "encoder.onnx").write_bytes(b"enc")
    (out / "model.json").write_text(json.dumps({"files": {"encoder.onnx": "..."}}))
"""


def fake_python(tmp_path: Path, fail: bool = False) -> tuple[Path, Path]:
    log = tmp_path / "python.log"
    path = tmp_path / "fake-python"
    path.write_text(FAKE_PYTHON.replace("LOG", repr(str(log))).replace("FAIL", str(fail)))
    path.chmod(0o755)
    return path, log


def test_prepare_model_puts_the_prepared_moonshine_on_the_card(boot: Path, tmp_path: Path) -> None:
    python, log = fake_python(tmp_path)
    done = provision(boot, *basic_args(), "--prepare-model", "--python", str(python))
    assert done.returncode == 0, done.stderr
    model = boot / "reorder" / "models" / "moonshine-base-en"
    assert (model / "encoder.onnx").read_bytes() == b"enc" and (model / "model.json").is_file()
    fetch, prepare = log.read_text().splitlines()
    assert fetch.endswith("--locale en-US --dest " + fetch.split("--dest ")[1]) and "--print-path" in fetch
    assert prepare.startswith(f"-m device.prepare.moonshine --from {fetch.split('--dest ')[1].split()[0]}/moonshine")
    scratch = Path(fetch.split("--dest ")[1].split()[0]).parent
    assert not scratch.exists()  # the laptop's temporary copy is gone
    assert "reorder/models/moonshine-base-en" in done.stderr


def test_install_sh_gets_the_lock_files_with_the_source(boot: Path) -> None:
    assert provision(boot, *basic_args()).returncode == 0
    assert (boot / "reorder" / "src" / "requirements" / "device.txt").is_file()


@pytest.mark.parametrize(("extra", "words"), [
    (["--locale", "fr-FR"], "nothing to prepare for fr-FR"),
    (["--python", "/nonexistent/python"], "/nonexistent/python is missing"),
])
def test_prepare_model_refusals_are_one_line_and_write_nothing(boot: Path, extra: list[str], words: str) -> None:
    done = provision(boot, *basic_args(), "--prepare-model", *extra)
    assert done.returncode == 2 and words in done.stderr and done.stderr.count("\n") == 1
    assert not (boot / "reorder").exists()


def test_a_failed_preparation_writes_nothing(boot: Path, tmp_path: Path) -> None:
    python, _ = fake_python(tmp_path, fail=True)
    done = provision(boot, *basic_args(), "--prepare-model", "--python", str(python))
    assert done.returncode == 1 and "[prepare] extra is missing" in done.stderr and done.stderr.count("\n") == 1
    assert not (boot / "reorder").exists()


@pytest.mark.parametrize(("args", "wake"), [
    ([], {"engine": "microwakeword"}),  # the device's default word(s)
    (["--wake-word", "hey jarvis"], {"engine": "microwakeword", "keyword": "hey_jarvis"}),
    (["--wake-engine", "openwakeword"], {"engine": "openwakeword", "keyword": "hey_jarvis"}),
])
def test_the_wake_engine_is_the_devices_default_unless_asked(boot: Path, args: list[str], wake: dict) -> None:
    import tomllib

    done = provision(boot, *basic_args(), *args)
    assert done.returncode == 0, done.stderr
    assert tomllib.loads((boot / "reorder" / "device.toml").read_text())["wake"] == wake
