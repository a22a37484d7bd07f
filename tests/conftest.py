"""Shared fixtures: a real Mosquitto (tests/support.py) on a free loopback port, espeak-ng speech, mock pins."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import speech
from tests.support import Mosquitto, Subscriber, free_port, wait_for_port  # noqa: F401 (tests import them from here)

SAMPLES = Path(__file__).resolve().parents[1] / "device" / "samples"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Mosquitto (persistence on) on a free loopback port; stopped after the test."""
    if not shutil.which("mosquitto"):
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (see .ci/run)")
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


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
    """say([("speech", "okay nabu"), ("silence", 0.7), ...], voice=..) -> a 16 kHz mono WAV path."""
    return lambda parts, **kw: speech.compose(speech_dir, parts, **kw)
