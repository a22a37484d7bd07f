"""Shared fixtures: a real Mosquitto on a free loopback port, espeak-ng speech, gpiozero mock pins."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests import speech

SAMPLES = Path(__file__).resolve().parents[1] / "device" / "samples"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Mosquitto:
    """A real Mosquitto broker process owned by a test."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # As root Mosquitto drops to the `mosquitto` user, which cannot write its persistence
            # file into pytest's 0700 folders; `user root` keeps it (ignored when not root).
            "user root\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_on_changes true\n"
            "autosave_interval 1\n"
            "log_dest stderr\n"
            + self.extra_config
        )
        self.log = open(self.workdir / "mosquitto.log", "ab")
        self.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=self.log, stderr=self.log)
        wait_for_port(self.port)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Mosquitto (persistence on) on a free loopback port; stopped after the test."""
    if not shutil.which("mosquitto"):
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (see .ci/run)")
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


class Subscriber:
    """A paho client that records every message on the topics it subscribed to."""

    def __init__(self, port: int, *topics: str) -> None:
        self.messages: list[tuple[str, dict]] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(t, 1) for t in topics])
        assert subscribed.wait(5), "subscription was not acknowledged"

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append((msg.topic, json.loads(msg.payload)))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
        """Wait until `count` messages arrived (or the timeout); returns what arrived."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber():
    """Factory for Subscriber clients, all closed after the test."""
    made: list[Subscriber] = []

    def make(port: int, *topics: str) -> Subscriber:
        made.append(Subscriber(port, *topics))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture
def catalog_path() -> Path:
    """The sample catalogue shipped with the package."""
    return SAMPLES / "catalog.json"


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    """A session-wide folder for synthesised speech (each phrase is made once)."""
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        pytest.fail("espeak-ng and sox are required: apt-get install espeak-ng sox (see .ci/run)")
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def say(speech_dir):
    """say([("speech", "hey jarvis"), ("silence", 0.7), ...], voice=..) -> a 16 kHz mono WAV path."""
    return lambda parts, **kw: speech.compose(speech_dir, parts, **kw)
