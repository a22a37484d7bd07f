"""Drives the demo's device loop in real time: frames, button presses (keys or automatic) and the outcome.

Like `runner.run_replay`, but paced like a live microphone so a person can watch, with presses
that come from the keyboard (Enter = short press, `c` then Enter = long press, `q` = quit) or,
without a terminal, from the driver itself once the items and total were read back.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from device.app import Device
from device.audio.source import FRAME_SECONDS, SILENT_FRAME
from device.demo.view import View, short_id
from device.events import Event
from device.runner import SHORT_PRESS_SECONDS

if TYPE_CHECKING:
    from device.adapters.hardware.gpio import GpioPanel

log = logging.getLogger(__name__)

AUTO_PRESS_MARGIN = 0.5
"""Seconds after the read-back summary ends before the automatic press (a press counts only after it)."""
LONG_PRESS_EXTRA = 0.3
"""A long press is held this much longer than [confirmation] long_press_seconds."""
STORE_WAIT_SECONDS = 2.0
"""After the device heard "accepted", how long to wait for the store backend's own report of the order."""


@dataclass
class DemoResult:
    """How the request ended, as far as the demo can tell from the events."""

    order_id: str | None = None
    total: str = ""
    accepted: bool = False
    stored: bool = False
    """The store backend reported the order (its hook ran)."""
    failure: str | None = None
    cancelled: bool = False
    prompt_at: float | None = None
    summary_seconds: float | None = None
    heard: str | None = None
    """The last transcript (None until the wake word opened listening and something was recognised)."""

    @property
    def finished(self) -> bool:
        """Accepted, cancelled or failed."""
        return self.accepted or self.cancelled or self.failure is not None

    def observe(self, event: Event) -> None:
        """Follow one device event."""
        name, e = event.name, event
        if name == "transcript":
            self.heard = e.text  # type: ignore[attr-defined]
        elif name == "prompt":
            self.prompt_at, self.summary_seconds = e.t, None
            self.total = f"{e.total:.2f} {e.currency}"  # type: ignore[attr-defined]
        elif name == "said" and self.prompt_at is not None and self.summary_seconds is None:
            self.summary_seconds = e.seconds  # type: ignore[attr-defined]
        elif name == "queued":
            self.order_id = e.order_id  # type: ignore[attr-defined]
        elif name == "status" and e.order_id == self.order_id:  # type: ignore[attr-defined]
            if e.status in ("accepted", "duplicate"):  # type: ignore[attr-defined]
                self.accepted = True
            elif e.status == "rejected":  # type: ignore[attr-defined]
                self.failure = f"the store rejected order {short_id(self.order_id)} ({e.reason})"  # type: ignore
        elif name == "cancelled":
            self.cancelled = True
        elif name == "timeout":
            during = e.during  # type: ignore[attr-defined]
            self.failure = ("nobody pressed the button in time: nothing was ordered" if during == "confirmation"
                            else "no request was heard after the wake word")
        elif name == "rejected":
            self.failure = f"the device refused the request ({e.reason})"  # type: ignore[attr-defined]
        elif name == "error":
            self.failure = e.message  # type: ignore[attr-defined]


class KeyReader:
    """Reads keys from a terminal without echo: Enter → "short", `c` then Enter → "long", `q` → "quit"."""

    def __init__(self, commands: queue.SimpleQueue, view: View) -> None:
        self.commands, self.view = commands, view
        self.fd = sys.stdin.fileno()
        self._saved: list | None = None

    def start(self) -> None:
        import termios

        self._saved = termios.tcgetattr(self.fd)
        quiet = termios.tcgetattr(self.fd)
        quiet[3] &= ~(termios.ECHO | termios.ICANON)  # lflag: no echo, one key at a time (Ctrl-C still works)
        quiet[6][termios.VMIN], quiet[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSANOW, quiet)
        threading.Thread(target=self._read, name="demo-keys", daemon=True).start()

    def stop(self) -> None:
        """Give the terminal back as it was."""
        import termios

        saved, self._saved = self._saved, None
        if saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, saved)

    def _read(self) -> None:
        armed = False
        while True:
            try:
                key = os.read(self.fd, 1).decode("utf-8", "ignore").lower()
            except OSError:
                return
            if not key:
                return
            if key in "\r\n":
                self.commands.put("long" if armed else "short")
                armed = False
            elif key == "c":
                armed = True
                self.view.note("c: the next Enter is a long press (cancel)")
            elif key == "q":
                self.commands.put("quit")


@dataclass
class Driver:
    """Feeds the loop one frame per 80 ms of wall time and presses the mock button."""

    device: Device
    view: View
    outcome: DemoResult
    auto_press: bool
    live_source: bool = False
    """True for the microphone (its read() paces itself; it never ends)."""
    commands: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    _edges: list[tuple[float, bool]] = field(default_factory=list)
    _auto_done: bool = False
    _accepted_at: float | None = None

    def press(self, long: bool = False) -> None:
        """Schedule a press now, released after a short or a long hold (in audio time)."""
        t = self.device.loop.t
        hold = (self.device.loop.presses.long_seconds + LONG_PRESS_EXTRA) if long \
            else SHORT_PRESS_SECONDS
        self._edges += [(t, True), (t + hold, False)]
        self._edges.sort()

    def run(self, stop: threading.Event, linger: float = 1.0, exit_on_outcome: bool = True) -> None:
        """Until `stop`, a "quit" key, or (with `exit_on_outcome`) `linger` seconds after the request ended."""
        loop, source = self.device.loop, self.device.source
        panel = cast("GpioPanel", self.device.panel)
        pin = panel.confirm_button.pin  # a MockFactory pin, pressed like a finger
        source.open()
        ended = False
        started = time.monotonic()
        done_at: float | None = None
        while not stop.is_set():
            self._commands(stop)
            self._auto()
            while self._edges and self._edges[0][0] <= loop.t + 1e-9:
                _, pressed = self._edges.pop(0)
                pin.drive_low() if pressed else pin.drive_high()
            if self.live_source:
                frame = source.read()
            else:
                frame = None if ended else source.read()
                if frame is None:
                    ended, frame = True, SILENT_FRAME  # after the recording: a quiet room
                time.sleep(max(0.0, started + loop.t + FRAME_SECONDS - time.monotonic()))
            loop.step(frame)
            if exit_on_outcome:
                if done_at is None and self._over(ended):
                    done_at = loop.t
                if done_at is not None and loop.t - done_at >= linger and not self._edges:
                    return

    def _over(self, ended: bool) -> bool:
        o = self.outcome
        if o.accepted:  # also wait (a little) for the store's side to be shown
            self._accepted_at = self._accepted_at if self._accepted_at is not None else self.device.loop.t
            return o.stored or self.device.loop.t - self._accepted_at >= STORE_WAIT_SECONDS
        if o.finished:
            return True
        if ended and self.device.loop.idle and not self._edges and o.prompt_at is None:
            o.failure = ("the wake word was not heard in the recording" if o.heard is None
                         else f"the request was not understood (heard \"{o.heard}\")")
            return True
        return False

    def _commands(self, stop: threading.Event) -> None:
        while not self.commands.empty():
            command = self.commands.get_nowait()
            if command == "quit":
                stop.set()
            else:
                self.press(long=command == "long")

    def _auto(self) -> None:
        o, loop = self.outcome, self.device.loop
        if not self.auto_press or self._auto_done or o.prompt_at is None or o.summary_seconds is None:
            return
        if loop.t >= o.prompt_at + o.summary_seconds + AUTO_PRESS_MARGIN:
            self._auto_done = True
            self.view.note(f"no terminal: pressing the button myself (short press at {loop.t:.2f} s, after the "
                           f"items and total were read back)")
            self.press()
