"""systemd's notification socket and journal lines, with the standard library (adapters.hardware.systemd)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from device import runner
from device.adapters.hardware.systemd import JournalFormatter, Notifier, log_handler, priority


@pytest.fixture
def notify_socket(tmp_path: Path):
    """A datagram socket where systemd's would be, and what it received."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def test_states_go_to_the_socket_named_by_notify_socket(notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = Notifier()
    assert notifier.enabled and notifier.notify("READY=1") and notifier.notify("WATCHDOG=1")
    assert [sock.recv(64), sock.recv(64)] == [b"READY=1", b"WATCHDOG=1"]
    notifier.close()
    notifier.close()
    assert not notifier.notify("STOPPING=1")


def test_an_abstract_socket_name_starts_with_a_nul_byte():
    name = f"reorder-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        assert Notifier("@" + name).notify("READY=1")
        assert sock.recv(64) == b"READY=1"
    finally:
        sock.close()


def test_outside_systemd_or_with_systemd_gone_nothing_is_sent_and_nothing_raises(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled and not Notifier().notify("READY=1")
    gone = Notifier(str(tmp_path / "no-such-socket"))
    assert gone.enabled and not gone.notify("READY=1")


class _Source:
    def __init__(self, stop: threading.Event, frames: int) -> None:
        self.is_open, self._stop, self._left = False, stop, frames

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def read(self) -> bytes:
        self._left -= 1
        if self._left <= 0:
            self._stop.set()
        return b"\0" * 2560


class _Loop:
    muted = False

    def __init__(self) -> None:
        self.steps = 0

    def step(self, frame) -> None:
        self.steps += 1


class _Clock:
    """time.monotonic advancing 3 s a call, so the 5 s watchdog ping comes every other frame."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        self.t += 3.0
        return self.t

    def sleep(self, seconds: float) -> None:
        pass


def test_the_live_loop_says_ready_pings_the_watchdog_while_it_turns_and_says_stopping(notify_socket, monkeypatch):
    path, sock = notify_socket
    stop = threading.Event()
    device = type("FakeDevice", (), {"loop": _Loop(), "source": _Source(stop, frames=4)})()
    monkeypatch.setattr(runner, "time", _Clock())
    runner.run_live(device, stop, Notifier(path))  # type: ignore[arg-type]
    sock.settimeout(0.2)
    got = []
    while True:
        try:
            got.append(sock.recv(64))
        except TimeoutError:
            break
    assert got[0] == b"READY=1" and got[-1] == b"STOPPING=1" and device.loop.steps == 4
    assert got[1:-1] and set(got[1:-1]) == {b"WATCHDOG=1"}


def test_levels_map_to_syslog_priorities():
    assert [priority(level) for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO,
                                          logging.DEBUG, 25)] == [2, 3, 4, 6, 7, 6]


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("device.loop", level, __file__, 1, message, None, None)


def test_under_the_journal_lines_carry_their_priority_and_no_time_stamp(tmp_path, monkeypatch):
    with open(tmp_path / "stderr", "w") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        handler = log_handler(stream, "%(asctime)s %(levelname)s %(name)s: %(message)s")
        assert isinstance(handler.formatter, JournalFormatter)
        handler.emit(_record(logging.WARNING, "broker unreachable"))
        handler.emit(_record(logging.INFO, "two\nlines"))
    assert (tmp_path / "stderr").read_text() == "<4>device.loop: broker unreachable\n<6>device.loop: two\n<6>lines\n"


def test_elsewhere_lines_keep_the_given_format(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")  # another stream's (a child of a service writing to a file)
    with open(tmp_path / "stderr", "w") as stream:
        handler = log_handler(stream, "reorder: %(levelname)s %(name)s: %(message)s")
        handler.emit(_record(logging.WARNING, "broker unreachable"))
    assert (tmp_path / "stderr").read_text() == "reorder: WARNING device.loop: broker unreachable\n"
