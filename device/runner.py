"""Drivers of the loop: live (`reorder run`) and from a recording (`reorder replay`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from device.adapters.hardware.systemd import Notifier
from device.app import Device
from device.audio.source import FRAME_SECONDS, SILENT_FRAME

log = logging.getLogger(__name__)

SHORT_PRESS_SECONDS = 0.15
CATALOGUE_WAIT_SECONDS = 5.0
LINK_WAIT_SECONDS = 5.0
DRAIN_SECONDS = 10.0


class WallClock(Protocol):
    """Wall time, for what must pace itself against the world (a live microphone, the broker's answers);
    the `time` module is one. Audio time is the loop's own `t`."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back."""

    def sleep(self, seconds: float) -> None:
        """Wait this long."""


def run_live(device: Device, stop: threading.Event, notifier: Notifier | None = None,
             clock: WallClock | None = None) -> None:
    """Read the microphone until `stop` is set; mute closes the stream, unmute reopens it.

    Under systemd (Type=notify) it says READY=1 once the microphone is open, WATCHDOG=1 every 5 s
    while the loop turns, and STOPPING=1 at the end; elsewhere the notifier does nothing."""
    loop, source = device.loop, device.source
    notifier = notifier or Notifier()
    clock = clock or time  # the wall clock, looked up when called (tests may replace it)
    if not loop.muted:  # muted from boot: the microphone is not even opened
        source.open()
    notifier.notify("READY=1")
    last_ping = clock.monotonic()
    while not stop.is_set():
        if loop.muted:
            if source.is_open:
                source.close()
            clock.sleep(FRAME_SECONDS)
            loop.step(None)
        else:
            if not source.is_open:
                source.open()
            loop.step(source.read())
        if clock.monotonic() - last_ping > 5:
            notifier.notify("WATCHDOG=1")  # only while the loop really turns
            last_ping = clock.monotonic()
    notifier.notify("STOPPING=1")
    notifier.close()


@dataclass
class PressPlan:
    """Button presses at given seconds of the recording, as replay's --press-at / --long-press-at."""

    short: list[float] = field(default_factory=list)
    long: list[float] = field(default_factory=list)
    long_seconds: float = 1.5

    def actions(self, pin) -> list[tuple[float, Callable[[], None]]]:
        """(time, action) pairs driving a MockFactory pin like a finger."""
        downs = [(t, pin.drive_low) for t in self.short + self.long]
        ups = [(t + SHORT_PRESS_SECONDS, pin.drive_high) for t in self.short]
        ups += [(t + self.long_seconds + 0.3, pin.drive_high) for t in self.long]
        return downs + ups


def _wait_for_grammar(device: Device) -> None:
    """A grammar build a new catalogue started is finished before audio time moves on: a replay's events do
    not depend on how busy the machine is (live, requests meanwhile use the previous grammar)."""
    wait = getattr(getattr(getattr(device.loop, "requests", None), "recognizer", None), "wait_for_grammar", None)
    if callable(wait):  # neural recognisers; the others build their grammar at once
        wait()


def run_replay(device: Device, presses: PressPlan, realtime: bool = False, linger: float = 0.0,
               actions: Sequence[tuple[float, Callable[[], None]]] = (), clock: WallClock | None = None) -> None:
    """Feed the recording, then silence until the loop is idle and the outbox drained, then linger.

    `presses` drive the confirm button's mock pin; `actions` are any other (seconds, callable)
    to run at that time of the recording (tests flip the mute switch this way).
    """
    loop, source = device.loop, device.source
    clock = clock or time  # the wall clock, looked up when called (tests may replace it)
    edges = sorted([*presses.actions(device.panel.confirm_button.pin), *actions], key=lambda e: e[0])
    # The broker's first answer (connected or not) is heard before audio time starts: whether the replay
    # starts idle or offline does not depend on how fast the broker answered a busy machine.
    if not device.link.first_attempt(LINK_WAIT_SECONDS):
        log.info("broker not connected after its first attempt: the replay starts offline")
    loop.drain()
    if loop.catalogue is None:  # no file and no cache: the retained catalogue comes from the broker
        deadline = clock.monotonic() + CATALOGUE_WAIT_SECONDS
        while loop.catalogue is None and clock.monotonic() < deadline:
            loop.drain()
            clock.sleep(0.02)
        if loop.catalogue is None:
            log.warning("no catalogue after %.0fs: give --catalog or publish one retained", CATALOGUE_WAIT_SECONDS)
    if not loop.muted:
        source.open()
    ended = False
    length = float(getattr(source, "duration", 0.0))  # WavSource: the recording's length (seconds)
    drain_deadline = None
    started = clock.monotonic()
    while True:
        while edges and edges[0][0] <= loop.t + 1e-9:
            edges.pop(0)[1]()
        if loop.muted:
            if source.is_open:
                source.close()
            frame = None
            if loop.t >= length:  # the recording's time passes while the microphone is closed
                ended = True
        else:
            if not source.is_open:
                source.open()
            frame = source.read() if not ended else SILENT_FRAME
            if frame is None:
                ended, frame = True, SILENT_FRAME
        loop.step(frame)
        _wait_for_grammar(device)
        if realtime:
            clock.sleep(max(0.0, started + loop.t - clock.monotonic()))
        if ended and not edges and loop.idle:
            if drain_deadline is None:
                drain_deadline = clock.monotonic() + DRAIN_SECONDS
            if loop.outbox.depth() == 0 and loop.delivery.in_flight == 0:
                break
            if clock.monotonic() >= drain_deadline:
                log.warning("%d orders still unsent after %.0fs; they stay in the outbox", loop.outbox.depth(),
                            DRAIN_SECONDS)
                break
            clock.sleep(0.01)
    end = clock.monotonic() + linger
    while clock.monotonic() < end:  # the store's answers, in wall time, silence as audio
        loop.step(SILENT_FRAME)
        clock.sleep(FRAME_SECONDS)
