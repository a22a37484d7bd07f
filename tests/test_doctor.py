"""`reorder doctor`: each check on a working setup and on the broken ones, and the whole command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from device.config import Settings, from_mapping
from device.doctor import Printer, doctor
from device.doctor.audio import check_microphone, check_speaker, level_dbfs, meter
from device.doctor.counters import check_counters
from device.doctor.engines import check_recognizer, check_wake_word
from device.doctor.network import check_broker, check_catalogue
from device.doctor.result import Result, split_message
from device.doctor.system import check_clock, check_config, check_gpio, check_outbox, load_config
from device.orders.outbox import Outbox
from tests.conftest import Mosquitto, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CATALOG = ROOT / "device" / "samples" / "catalog.json"
RUN_TIMEOUT = 120


def write_config(tmp_path: Path, broker: str, extra: str = "", catalog: Path | None = SAMPLE_CATALOG) -> Path:
    """A device.toml in tmp_path: mock pins, outbox in tmp_path, the given broker (and catalogue file)."""
    path = tmp_path / "device.toml"
    storage = f'outbox = "{tmp_path / "state" / "outbox.sqlite3"}"\n'
    if catalog is not None:
        storage += f'catalog = "{catalog}"\n'
    path.write_text(f'[device]\nid = "kitchen-01"\n\n[gpio]\npin_factory = "mock"\n\n[storage]\n{storage}\n'
                    f'[mqtt]\nbroker = "{broker}"\n\n{extra}')
    return path


def settings_of(path: Path) -> Settings:
    result, settings = load_config(path)
    assert result.ok, result.line()
    assert settings is not None
    return settings


def run_doctor(config: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`python -m device doctor --config FILE` in a clean HOME (no .asoundrc, no state)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full_env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"), **env}
    full_env.pop("REORDER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "device", "doctor", "--config", str(config)], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT, env=full_env, cwd=ROOT)


def line_of(stdout: str, name: str) -> str:
    """The doctor's line for one check."""
    found = [line for line in stdout.splitlines() if re.match(rf"^[✓✗!] {re.escape(name)}: ", line)]
    assert len(found) == 1, stdout
    return found[0]


def has_input_device() -> bool:
    """Whether PortAudio sees a microphone on this machine (CI machines have none)."""
    try:
        import sounddevice
    except OSError:
        return False
    return any(d["max_input_channels"] > 0 for d in sounddevice.query_devices())


# -- a working setup ---------------------------------------------------------------------------------

def test_on_a_working_setup_every_check_but_the_sound_hardware_passes(tmp_path, mosquitto):
    settings = settings_of(write_config(tmp_path, mosquitto.url))
    for check in (check_broker, check_outbox, check_catalogue, check_wake_word, check_recognizer, check_gpio):
        result = check(settings)
        assert result.status == "pass", result.line()
        assert result.line().startswith(f"✓ {result.name}: ")
    assert check_config(write_config(tmp_path, mosquitto.url)).line().startswith(
        f"✓ config: config file {tmp_path / 'device.toml'} is valid")
    assert "accepted no username" in check_broker(settings).detail
    assert check_outbox(settings).detail.endswith(": 0 unsent orders")
    assert check_catalogue(settings).detail.startswith(f"file {SAMPLE_CATALOG}: version ")
    from device.config import WakeSettings

    wake = check_wake_word(settings).detail  # every active word with its threshold
    assert wake.startswith("microwakeword listening for ") and " s" in wake.split("loaded in ")[1]
    assert all(f'"{word}" at 0.' in wake for word in WakeSettings().words()) and "(sensitivity normal)" in wake
    from device import engines

    assert check_recognizer(settings).detail.startswith(f"{engines.choose(settings).engine} for en-US (auto: ")
    assert check_gpio(settings).detail == "MockFactory: pins confirm 17, rgb LED 5/6/13 claimed and released"


def test_the_whole_doctor_prints_one_line_per_check_and_fails_only_on_the_missing_sound_card(tmp_path, mosquitto):
    done = run_doctor(write_config(tmp_path, mosquitto.url), tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    names = ["config", "microphone", "speaker", "wake word", "recogniser", "licences", "GPIO", "clock", "broker",
             "outbox", "catalogue", "counters"]
    assert [re.match(r"^[✓✗!] ([^:]+):", line).group(1) for line in lines[:-1]] == names, done.stdout
    for name in ("config", "wake word", "recogniser", "licences", "GPIO", "broker", "outbox", "catalogue"):
        assert line_of(done.stdout, name).startswith("✓ "), done.stdout
    mic = line_of(done.stdout, "microphone")
    if has_input_device():  # pragma: no cover - a machine with a sound card
        return
    assert mic.startswith("✗ microphone: no input device") and " — plug in a USB microphone" in mic
    assert line_of(done.stdout, "speaker").startswith("! speaker: ")  # no speaker: a warning, not a failure
    assert lines[-1] == "doctor: 10 passed, 1 warning, 1 failed: fix the lines marked ✗"
    assert done.returncode == 1


# -- broken setups: one clear ✗ line each, and a non-zero exit --------------------------------------

def test_no_broker_names_host_and_port(tmp_path):
    port = free_port()
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{port}", catalog=None)
    result = check_broker(settings_of(config))
    assert result.line() == (f"✗ broker: broker 127.0.0.1:{port} is unreachable (Connection refused) — start the "
                             f"broker (sudo systemctl start mosquitto), check the network, or fix [mqtt] broker in "
                             f"config file {config}")
    catalogue = check_catalogue(settings_of(config), timeout=1.0)
    assert catalogue.line().startswith("✗ catalogue: no [storage] catalog file and no cached catalogue at ")
    assert f"the broker cannot be asked (broker 127.0.0.1:{port} is unreachable" in catalogue.detail
    done = run_doctor(config, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert line_of(done.stdout, "broker") == result.line()
    assert line_of(done.stdout, "catalogue").endswith("and the broker cannot be asked (see the broker line) — "
                                                      "publish one retained for kitchen-01 (reorder store-backend "
                                                      "--catalog FILE) or set [storage] catalog")


def test_tls_to_a_plain_port_and_an_unknown_host(tmp_path, mosquitto):
    tls = check_broker(from_mapping({"mqtt": {"broker": f"mqtts://127.0.0.1:{mosquitto.port}"}}, "test"))
    assert tls.line().startswith(f"✗ broker: TLS with the broker at 127.0.0.1:{mosquitto.port} failed")
    assert "TLS (8883" in tls.fix
    unknown = check_broker(from_mapping({"mqtt": {"broker": "mqtts://nosuchhost.invalid:8883"}}, "test"))
    assert unknown.line().startswith("✗ broker: broker host 'nosuchhost.invalid' is not known (")


def test_bad_porcupine_key_is_the_clear_model_error_line(tmp_path, mosquitto, monkeypatch):
    config = write_config(tmp_path, mosquitto.url, '[wake]\nengine = "porcupine"\nkeyword = "jarvis"\n')
    monkeypatch.setenv("PICOVOICE_ACCESS_KEY", "invalid")
    result = check_wake_word(settings_of(config))
    assert result.line().startswith("✗ wake word: Porcupine rejected its settings (")
    assert result.fix.startswith("check the AccessKey ([wake] access_key_file or PICOVOICE_ACCESS_KEY)")
    done = run_doctor(config, tmp_path, PICOVOICE_ACCESS_KEY="invalid")
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert line_of(done.stdout, "wake word") == result.line()


def test_porcupine_without_a_key_says_where_to_put_it(tmp_path, mosquitto, monkeypatch):
    monkeypatch.delenv("PICOVOICE_ACCESS_KEY", raising=False)
    config = write_config(tmp_path, mosquitto.url, '[wake]\nengine = "porcupine"\nkeyword = "jarvis"\n')
    assert check_wake_word(settings_of(config)).line() == (
        "✗ wake word: porcupine needs a Picovoice AccessKey: set [wake] access_key_file or PICOVOICE_ACCESS_KEY "
        "(or use engine = \"openwakeword\", which needs none) — check [wake] in config file " + str(config)
        + ", or use engine = \"openwakeword\"")


def test_missing_vosk_model(tmp_path, mosquitto):
    config = write_config(tmp_path, mosquitto.url, '[recognizer]\nengine = "vosk"\nvosk_model = "/nonexistent"\n')
    result = check_recognizer(settings_of(config))
    assert result.line() == ("✗ recogniser: Vosk model directory /nonexistent does not exist — run scripts/install.sh "
                             "--only model (with engine = \"vosk\" it fetches the locale's Vosk model) or fix "
                             "[recognizer] vosk_model")
    done = run_doctor(config, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert line_of(done.stdout, "recogniser") == result.line()


def test_bad_config_key_stops_the_doctor_at_the_config_line(tmp_path):
    config = tmp_path / "device.toml"
    config.write_text('[wake]\ncolour = "blue"\n')
    result = check_config(config)
    assert result.line().startswith(f"✗ config: unknown key [wake] colour in config file {config} — known: ")
    done = run_doctor(config, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout.splitlines() == [result.line(), "doctor: the other checks need a valid config"]


def test_config_that_is_not_toml_or_missing(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[wake\n")
    assert check_config(broken).line().startswith(f"✗ config: config file {broken} is not valid TOML: ")
    missing = tmp_path / "missing.toml"
    assert check_config(missing).line() == (f"✗ config: config file {missing} does not exist — give a path to a "
                                            "device.toml (template: firmware_config/device.example.toml)")


# -- broker credentials and ACL on a secured Mosquitto ----------------------------------------------

@pytest.fixture
def secured(tmp_path: Path):
    """A Mosquitto with accounts from scripts/broker-accounts (kitchen-01, hall-02) and its ACL."""
    accounts = tmp_path / "accounts"
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "broker-accounts"), "--out", str(accounts),
                           "kitchen-01", "hall-02"], capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    broker = Mosquitto(tmp_path / "secured")
    broker.workdir.mkdir(parents=True)
    conf = broker.workdir / "mosquitto.conf"
    # As root, Mosquitto drops to the mosquitto user, who cannot read pytest's folders: stay root.
    conf.write_text(f"listener {broker.port} 127.0.0.1\nallow_anonymous false\npassword_file {accounts}/passwd\n"
                    f"acl_file {accounts}/acl\nuser root\nlog_dest stderr\n")
    with open(broker.workdir / "mosquitto.log", "ab") as log:
        broker.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_for_port(broker.port)
        yield broker, accounts
    finally:
        broker.stop()


def secret_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"secret-{uuid.uuid4().hex[:6]}"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_broker_refusing_the_credentials(tmp_path, secured):
    broker, _accounts = secured
    wrong = secret_file(tmp_path, "not-the-password")
    config_path = with_account(tmp_path, broker, "kitchen-01", "kitchen-01", wrong)
    result = check_broker(settings_of(config_path))
    assert result.line().startswith("✗ broker: broker refused the credentials (")
    assert f"of user kitchen-01 at 127.0.0.1:{broker.port} — check [mqtt] username and password_file" in result.line()
    done = run_doctor(config_path, tmp_path)
    assert done.returncode == 1 and line_of(done.stdout, "broker") == result.line()


def with_account(tmp_path: Path, broker: Mosquitto, device_id: str, username: str, password: Path) -> Path:
    path = tmp_path / f"{device_id}-{username}.toml"
    path.write_text(f'[device]\nid = "{device_id}"\n[gpio]\npin_factory = "mock"\n[storage]\n'
                    f'outbox = "{tmp_path / "state" / "outbox.sqlite3"}"\n'
                    f'[mqtt]\nbroker = "{broker.url}"\nusername = "{username}"\npassword_file = "{password}"\n')
    return path


def test_broker_accepting_the_account_and_its_acl(tmp_path, secured):
    broker, accounts = secured
    good = secret_file(tmp_path, (accounts / "passwords" / "kitchen-01").read_text())
    ok = check_broker(settings_of(with_account(tmp_path, broker, "kitchen-01", "kitchen-01", good)))
    assert ok.status == "pass", ok.line()
    assert ok.detail.startswith(f"{broker.url} accepted user kitchen-01 in ")
    # The right password, but the device id is not the username: Mosquitto's ACL hides its topics.
    mismatch = check_broker(settings_of(with_account(tmp_path, broker, "hall-02", "kitchen-01", good)))
    assert mismatch.status == "warn"
    assert mismatch.line().startswith(f"! broker: {broker.url} accepted user kitchen-01 in ")
    assert mismatch.line().endswith(", but the device id is hall-02: order-status and catalogue messages may never "
                                    "arrive — the broker's ACL (scripts/broker-accounts) gives each account the topics "
                                    "of the device named like it: set [device] id = \"kitchen-01\" or use the account "
                                    "of hall-02")


def test_password_file_readable_by_others_is_named(tmp_path, mosquitto):
    loose = tmp_path / "password"
    loose.write_text("x")
    loose.chmod(0o644)
    config = write_config(tmp_path, mosquitto.url)
    config.write_text(config.read_text().replace(f'broker = "{mosquitto.url}"',
                                                 f'broker = "{mosquitto.url}"\nusername = "u"\n'
                                                 f'password_file = "{loose}"'))
    assert check_broker(settings_of(config)).line() == (
        f"✗ broker: [mqtt] password_file {loose} is readable by others (mode 644) — run: chmod 600 {loose}")


# -- catalogue ---------------------------------------------------------------------------------------

def publish_retained(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_catalogue_retained_on_the_broker(tmp_path, mosquitto):
    settings = settings_of(write_config(tmp_path, mosquitto.url, catalog=None))
    missing = check_catalogue(settings, timeout=1.0)
    assert missing.line() == (
        f"✗ catalogue: no [storage] catalog file and no cached catalogue at {tmp_path / 'state' / 'catalog.json'}, "
        f"and none is retained on reorder/v1/devices/kitchen-01/catalog (waited 1 s) — publish one retained for "
        f"kitchen-01 (reorder store-backend --catalog FILE) or set [storage] catalog")
    publish_retained(mosquitto.port, "reorder/v1/devices/kitchen-01/catalog", SAMPLE_CATALOG.read_bytes())
    found = check_catalogue(settings)
    assert found.status == "pass", found.line()
    assert found.detail.startswith("retained on reorder/v1/devices/kitchen-01/catalog: version ")
    publish_retained(mosquitto.port, "reorder/v1/devices/kitchen-01/catalog", b'{"schema": "reorder.catalog/1"}')
    bad = check_catalogue(settings)
    assert bad.line().startswith("✗ catalogue: the catalogue retained on reorder/v1/devices/kitchen-01/catalog is "
                                 "not a valid reorder.catalog/1: ")


def test_catalogue_from_the_cache_and_a_broken_file(tmp_path):
    settings = settings_of(write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}", catalog=None))
    cache = settings.storage.catalog_cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(SAMPLE_CATALOG.read_bytes())
    assert check_catalogue(settings).detail.startswith(f"cached {cache}: version ")
    broken = tmp_path / "catalog.json"
    broken.write_text("{not json")
    result = check_catalogue(settings_of(write_config(tmp_path, "mqtt://127.0.0.1:1883", catalog=broken)))
    assert result.line().startswith(f"✗ catalogue: catalogue file {broken} is not JSON (")


def test_catalogue_without_names_in_the_locale_warns(tmp_path):
    english_only = tmp_path / "en.json"
    payload = json.loads(SAMPLE_CATALOG.read_text())
    for item in payload["items"]:
        item["names"].pop("fr", None)
    english_only.write_text(json.dumps(payload))
    config = write_config(tmp_path, "mqtt://127.0.0.1:1883", catalog=english_only)
    config.write_text(config.read_text().replace('id = "kitchen-01"', 'id = "kitchen-01"\nlocale = "fr-FR"'))
    result = check_catalogue(settings_of(config))
    assert result.ok and result.status == "warn"
    assert result.line().startswith(f"! catalogue: file {english_only}: version ")
    assert "none can be ordered in fr-FR" in result.line()


# -- outbox, GPIO, clock -----------------------------------------------------------------------------

def test_outbox_reports_unsent_orders_and_an_unusable_path(tmp_path):
    settings = settings_of(write_config(tmp_path, "mqtt://127.0.0.1:1883"))
    path = settings.storage.outbox_path()
    assert check_outbox(settings).detail == f"{path} (created): 0 unsent orders"
    box = Outbox(path)
    for n in range(2):
        box.add({"order_id": f"order-{n}", "created_at": "2026-11-22T13:00:00Z", "items": []})
    box.close()
    assert check_outbox(settings).detail == f"{path}: 2 unsent orders, sent when the broker is reachable"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = write_config(tmp_path, "mqtt://127.0.0.1:1883")
    config.write_text(config.read_text().replace(str(path), str(blocker / "outbox.sqlite3")))
    result = check_outbox(settings_of(config))
    assert result.line().startswith(f"✗ outbox: outbox folder {blocker} cannot be created (")
    assert result.fix == "set [storage] outbox or --outbox to a writable path"


def test_outbox_full_fails(tmp_path):
    config = write_config(tmp_path, "mqtt://127.0.0.1:1883", "")
    config.write_text(config.read_text().replace("[storage]\n", "[storage]\noutbox_capacity = 1\n"))
    settings = settings_of(config)
    box = Outbox(settings.storage.outbox_path())
    box.add({"order_id": "o-1", "created_at": "2026-11-22T13:00:00Z", "items": []})
    box.close()
    assert check_outbox(settings).line().startswith(f"✗ outbox: {settings.storage.outbox_path()} is full "
                                                    "(1 unsent order); new orders are refused — fix the broker")


def test_gpio_failures_name_the_factory(tmp_path, monkeypatch):
    config = write_config(tmp_path, "mqtt://127.0.0.1:1883")
    config.write_text(config.read_text().replace('pin_factory = "mock"', 'pin_factory = "nosuch"'))
    assert check_gpio(settings_of(config)).line().startswith(
        "✗ GPIO: [gpio] pin_factory 'nosuch' is not installed — use lgpio on a Pi")
    from gpiozero import Device

    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "nosuch")
    result = check_gpio(from_mapping({}, "test"))
    assert result.line().startswith("✗ GPIO: no GPIO pin factory works here (")
    assert result.fix == 'on a Pi: sudo apt-get install python3-lgpio; elsewhere set [gpio] pin_factory = "mock"'


def test_clock(tmp_path):
    plain = from_mapping({}, "test")
    tls = from_mapping({"mqtt": {"broker": "mqtts://broker.example:8883"}}, "test")
    now = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)
    assert check_clock(plain, datetime(1970, 1, 1, tzinfo=timezone.utc), lambda: True).line().startswith(
        "✗ clock: system time is 1970-01-01 00:00 UTC, which was never set — connect the network and enable NTP")
    assert check_clock(plain, now, lambda: True).line() == "✓ clock: 2026-11-22 13:00 UTC, NTP synchronised"
    assert check_clock(plain, now, lambda: None).line() == (
        "✓ clock: 2026-11-22 13:00 UTC (NTP status unknown: timedatectl is not available)")
    assert check_clock(plain, now, lambda: False).status == "warn"
    assert check_clock(tls, now, lambda: False).line() == (
        "✗ clock: 2026-11-22 13:00 UTC but not NTP-synchronised: TLS certificates may be refused — connect the "
        "network and enable NTP (sudo timedatectl set-ntp true)")
    assert check_clock(plain).ok  # this machine's real clock


# -- microphone and speaker --------------------------------------------------------------------------

def test_no_sound_card_fails_the_microphone_cleanly(tmp_path):
    if has_input_device():  # pragma: no cover - a machine with a sound card
        pytest.skip("this machine has a microphone")
    result = check_microphone(from_mapping({}, "test"))
    assert result.line() == ("✗ microphone: no input device: PortAudio lists no microphone — plug in a USB "
                             "microphone or sound-card HAT, check that `arecord -l` lists it, and that this user is "
                             "in the audio group")
    assert check_speaker(from_mapping({}, "test")).status == "warn"
    assert check_speaker(from_mapping({"confirmation": {"speak": False}}, "test")).line() == (
        "✓ speaker: read-backs are off ([confirmation] speak = false)")


def file_microphone(home: Path, raw: Path) -> dict[str, str]:
    """HOME with an .asoundrc whose capture reads `raw` (ALSA's file PCM; FINDINGS "Audio I/O")."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".asoundrc").write_text(
        'pcm.!default { type asym; capture.pcm "filemic"; playback.pcm "null" }\n'
        f'pcm.filemic {{ type file; slave.pcm "null"; file "/dev/null"; infile "{raw}"; format "raw" }}\n'
        'pcm.null { type null }\n')
    return {**os.environ, "HOME": str(home)}


CHECK_MIC = ("import sys; from device.doctor.audio import check_microphone, check_speaker; "
             "from device.config import from_mapping; s = from_mapping({}, 'test'); "
             "print(check_microphone(s).line()); print(check_speaker(s).line())")


def test_microphone_level_through_alsa(tmp_path, say):
    speech = say([("speech", "hey jarvis, reorder two packs of paper towels and a bottle of milk please")])
    raw = tmp_path / "speech.raw"
    subprocess.run(["sox", str(speech), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", str(raw)],
                   check=True, timeout=30)
    done = subprocess.run([sys.executable, "-c", CHECK_MIC], env=file_microphone(tmp_path / "home", raw), cwd=ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    mic, speaker = done.stdout.splitlines()
    assert mic.startswith('✓ microphone: "default" level '), done.stdout + done.stderr
    level = float(re.search(r"level (-?\d+\.\d) dBFS \[#+-*\]", mic).group(1))
    assert -40 < level < -3
    assert speaker == '✓ speaker: "default" with espeak-ng (en-US voice)'


def test_microphone_that_delivers_silence(tmp_path):
    raw = tmp_path / "zeros.raw"
    raw.write_bytes(bytes(16000 * 2 * 6))
    done = subprocess.run([sys.executable, "-c", CHECK_MIC], env=file_microphone(tmp_path / "home", raw), cwd=ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    mic = done.stdout.splitlines()[0]
    assert mic.startswith('✗ microphone: microphone delivers silence ("default": all-zero samples for 2 s) — '
                          "unmute it and raise its capture level"), done.stdout + done.stderr


def test_level_and_meter():
    import numpy as np

    full = np.full(1600, 32767, dtype=np.int16)
    rms, peak = level_dbfs(full)
    assert abs(rms) < 0.01 and abs(peak) < 0.01
    assert level_dbfs(np.zeros(10, dtype=np.int16)) == (float("-inf"), float("-inf"))
    assert meter(0.0) == "[" + "#" * 20 + "]"
    assert meter(-45.0) == "[" + "#" * 10 + "-" * 10 + "]"
    assert meter(float("-inf")) == "[" + "-" * 20 + "]"


# -- output ------------------------------------------------------------------------------------------

def test_result_lines_and_plain_or_ascii_output(tmp_path):
    assert Result("x", True, "fine", "unused").line() == "✓ x: fine"
    assert Result("x", True, "meh", "do this", warning=True).line() == "! x: meh — do this"
    assert Result("x", False, "broken", "mend it").line() == "✗ x: broken — mend it"
    assert split_message("a (b; c); d; e", "f") == ("a (b; c)", "d; e")
    assert split_message("nothing to split", "f") == ("nothing to split", "f")
    with open(tmp_path / "out.txt", "w", encoding="ascii") as stream:
        printer = Printer(stream)
        printer(Result("x", False, "broken", "mend it"))
        printer.summary([Result("x", False, "broken", "mend it")])
    assert (tmp_path / "out.txt").read_text().splitlines() == [
        "FAIL x: broken - mend it", "doctor: 0 passed, 0 warnings, 1 failed: fix the lines marked FAIL"]


def test_doctor_function_writes_to_a_stream(tmp_path, mosquitto):
    out = tmp_path / "out.txt"
    with open(out, "w", encoding="utf-8") as stream:
        code = doctor(str(write_config(tmp_path, mosquitto.url)), stream)
    text = out.read_text()
    assert text.startswith("✓ config: ") and code == (0 if "✗" not in text else 1)


# -- MQTT 3.1.1 brokers ------------------------------------------------------------------------------

@pytest.fixture(params=["amqtt", "mosquitto"])
def broker_311(request, tmp_path):
    """An MQTT 3.1.1 broker URL: the demo's embedded amqtt (3.1.1 only), or Mosquitto spoken to in 3.1.1."""
    if request.param == "amqtt":
        from device.demo.broker import EmbeddedBroker

        with EmbeddedBroker() as broker:
            yield "amqtt", broker.url
    else:
        yield "mosquitto", request.getfixturevalue("mosquitto").url


def test_the_doctor_works_on_an_mqtt_3_1_1_broker_and_leaves_no_session(tmp_path, broker_311, monkeypatch):
    from device.adapters.network import mqtt as adapter

    kind, url = broker_311
    config = write_config(tmp_path, url, catalog=None)
    config.write_text(config.read_text() + 'protocol = "3.1.1"\n')
    settings = settings_of(config)
    assert settings.mqtt.protocol == "3.1.1"
    monkeypatch.setattr(adapter, "random_client_id", lambda prefix: "kitchen-01-doctor-fixed")
    broker = check_broker(settings)
    assert broker.status == "pass", broker.line()
    port = int(url.rsplit(":", 1)[1])
    publish_retained(port, "reorder/v1/devices/kitchen-01/catalog", SAMPLE_CATALOG.read_bytes())
    found = check_catalogue(settings)
    assert found.status == "pass", found.line()
    if kind == "amqtt":
        return  # amqtt 0.12 answers session_present=True to any client id it has seen, clean or not
    # The doctor's session was clean: the broker kept nothing under its client id.
    present = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kitchen-01-doctor-fixed",
                         protocol=mqtt.MQTTv311, clean_session=False)
    client.on_connect = lambda c, u, flags, rc, props: present.append(flags.session_present)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not present and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.loop_stop()
        client.disconnect()
    assert present == [False]


# -- counters ----------------------------------------------------------------------------------------

def test_counters_from_the_retained_stats_else_the_file_and_many_false_wakes_warn(tmp_path, mosquitto):
    from device.events import NONE, IntentEvent, Rejected, StateChanged, Timeout, Wake
    from device.telemetry.stats import Stats, StatsFile, stats_payload

    settings = settings_of(write_config(tmp_path, mosquitto.url))
    assert check_counters(settings, timeout=0.5).line() == (
        f"✓ counters: none yet (the device writes {tmp_path / 'state' / 'stats.json'} after its first request)")
    stats = Stats("pocketsphinx", booted_at="2026-11-22T13:00:00Z")
    for event in (Wake(0.0, "openwakeword", "hey_jarvis", 0.9), StateChanged(0.0, "listening", "idle"),
                  IntentEvent(2.0, NONE), Rejected(2.0, "not-in-catalog")):
        stats.observe(event)
    StatsFile(tmp_path / "state" / "stats.json").save(stats.saved())
    from_file = check_counters(settings, timeout=0.5)
    assert from_file.status == "pass" and from_file.detail.startswith("since install (2026-11-22T13:00:00Z): 1 wakes")
    assert "1 refused (not-in-catalog 1)" in from_file.detail
    for _ in range(12):  # the TV: wakes nobody followed
        for event in (Wake(0.0, "openwakeword", "hey_jarvis", 0.9), StateChanged(0.0, "listening", "idle"),
                      Timeout(5.0, during="listening")):
            stats.observe(event)
    payload = stats_payload(stats, "kitchen-01", "1.0.0", "2026-11-22T14:00:00Z", 0, 5_000_000)
    publish_retained(mosquitto.port, "reorder/v1/devices/kitchen-01/stats", json.dumps(payload).encode())
    retained = check_counters(settings)
    assert retained.status == "warn" and retained.detail.startswith("last run: pocketsphinx no request yet, up ")
    assert "13 wakes (12 false)" in retained.detail and "(at 2026-11-22T14:00:00Z)" in retained.detail
    assert retained.detail.endswith("; 12 of 13 wakes were followed by no speech")
    assert "[wake] threshold" in retained.fix
    assert check_counters(settings, ask_broker=False).detail.startswith("since install (")
