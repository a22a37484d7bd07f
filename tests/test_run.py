"""`reorder run` with a real PortAudio microphone (ALSA's file plugin stands in for the sound card)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow


def alsa_home(tmp_path: Path, raw: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(
        'pcm.!default { type asym; capture.pcm "filemic"; playback.pcm "null" }\n'
        f'pcm.filemic {{ type file; slave.pcm "null"; file "/dev/null"; infile "{raw}"; format "raw" }}\n'
        "pcm.null { type null }\n")
    return home


def config(tmp_path: Path, broker: str) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(f'[device]\nid = "runner"\n[gpio]\npin_factory = "mock"\n[mqtt]\nbroker = "{broker}"\n'
                    f'[storage]\noutbox = "{tmp_path}/outbox.sqlite3"\ncatalog = "{SAMPLES}/catalog.json"\n')
    return path


def test_run_listens_on_the_microphone_and_stops_cleanly_on_sigterm(tmp_path, mosquitto, subscriber, say):
    wav = say([("silence", 0.5), ("speech", "okay nabu"), ("silence", 1.0)])
    raw = tmp_path / "speech.raw"
    subprocess.run(["sox", str(wav), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", str(raw)],
                   check=True)
    states = subscriber(mosquitto.port, "reorder/v1/devices/runner/state")
    env = {**os.environ, "HOME": str(alsa_home(tmp_path, raw))}
    proc = subprocess.Popen([sys.executable, "-m", "device", "run", "--config", str(config(tmp_path, mosquitto.url))],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "microphone (default) open" in line or proc.poll() is not None:
                break
        assert any("microphone (default) open" in line for line in lines), "".join(lines)
        assert states.wait_for(1, timeout=10)[0][1]["online"] is True
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=20)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest and "microphone (default) closed" in rest
    assert states.wait_for(2, timeout=10)[-1][1]["online"] is False  # the goodbye, retained


def test_run_with_a_missing_microphone_is_one_clear_line(tmp_path, mosquitto):
    path = config(tmp_path, mosquitto.url)
    path.write_text(path.read_text() + '[audio]\ninput_device = "USB PnP Sound Device"\n')
    done = subprocess.run([sys.executable, "-m", "device", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("reorder: microphone") and "input_device" in last and "Traceback" not in done.stderr
