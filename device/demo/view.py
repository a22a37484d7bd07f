"""What `reorder demo` shows: a live rich view in a terminal, plain lines anywhere else.

Both views take the same calls from three threads: the device loop (events), the store backend's
network thread (orders received, statuses sent) and logging. The live view redraws a board
(LED dot, state, prompt, events, store side) a few times a second; the plain view prints one
line per call, so scripts and CI logs read top to bottom.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from device.confirmation.led import AMBER, BLUE, CYAN, GREEN, OFF, PATTERNS, PURPLE, RED, WHITE, Color
from device.events import Event

COLOUR_NAMES: dict[Color, str] = {OFF: "off", WHITE: "white", BLUE: "blue", CYAN: "cyan", AMBER: "amber",
                                  GREEN: "green", RED: "red", PURPLE: "purple"}
EVENT_LINES = 14
"""Device events kept on the live board."""
STORE_LINES = 6
"""Store lines kept on the live board."""
NOTE_LINES = 6
"""The demo's own lines kept on the live board."""


def short_id(order_id: str | None) -> str:
    """The first block of an order id: enough to tell orders apart on screen."""
    return (order_id or "?").split("-")[0]


def led_text(state: str) -> str:
    """The LED pattern of a state in words ("amber, pulsing")."""
    light = PATTERNS.get(state)
    if light is None:
        return "?"
    name = COLOUR_NAMES.get(light.color, "lit")
    mode = {"blink": "blinking", "pulse": "pulsing"}.get(light.mode)
    return f"{name}, {mode}" if mode and light.color != OFF else name


def _items(items: Any) -> str:
    return ", ".join(f"{i['quantity']} × {i['sku']}" for i in items or ()) or "nothing"


# One formatter per event name (CONTRACT §4): the words after the time and the event's name.
FORMATS: dict[str, Callable[[Any], str]] = {
    "wake": lambda e: f"wake word {e.keyword} (score {e.score:.2f}, {e.engine})",
    "transcript": lambda e: f"heard \"{e.text}\" (confidence {e.confidence:.2f})",
    "intent": lambda e: f"{e.intent.action}: {_items(e.intent.to_dict().get('items'))}"
                        + (f" (unknown: {' '.join(e.intent.unknown)})" if e.intent.unknown else ""),
    "prompt": lambda e: e.text,
    "said": lambda e: f"\"{e.text}\" ({e.seconds:.1f} s)",
    "state": lambda e: f"{e.previous} → {e.state}   LED {led_text(e.state)}",
    "confirmed": lambda e: f"by {e.by}",
    "cancelled": lambda e: f"by {e.by}" + (f", order {short_id(e.order_id)} undone" if e.order_id else ""),
    "timeout": lambda e: f"nobody answered during {e.during}",
    "queued": lambda e: f"order {short_id(e.order_id)} is on disk (outbox)",
    "published": lambda e: f"order {short_id(e.order_id)} acknowledged by the broker",
    "status": lambda e: f"order {short_id(e.order_id)}: the store says {e.status}"
                        + (f" ({e.reason})" if e.reason else ""),
    "rejected": lambda e: f"refused: {e.reason}" + (f" ({e.detail})" if e.detail else ""),
    "error": lambda e: e.message,
    "ignored": lambda e: f"{e.what} ignored: {e.why}",
}


def describe(event: Event) -> str:
    """One line of words for an event."""
    formatter = FORMATS.get(event.name)
    return formatter(event) if formatter else str(event.to_dict())


def store_line(kind: str, request: dict[str, Any], answer: dict[str, Any]) -> str:
    """The store's side of one order or cancel: what came in and what it answered."""
    status = answer.get("status", "?") + (f" ({answer['reason']})" if answer.get("reason") else "")
    if kind == "order":
        return (f"order {short_id(request.get('order_id'))} received from {request.get('device_id', '?')}: "
                f"{_items(request.get('items'))}, total {request.get('total')} {request.get('currency', '')}"
                f" → sent {status}")
    return f"cancel of order {short_id(request.get('order_id'))} received → sent {status}"


class View(Protocol):
    """Where the demo reports; every method may be called from any thread."""

    def start(self) -> None:
        """Begin showing."""

    def stop(self) -> None:
        """Stop showing (the live view leaves its last frame on screen)."""

    def event(self, event: Event) -> None:
        """A device event."""

    def store(self, kind: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        """The store backend handled an order or a cancel."""

    def note(self, text: str) -> None:
        """A line from the demo itself (set-up, automatic presses, the result)."""

    def log(self, level: int, text: str) -> None:
        """A warning or error logged by any part of the product."""


class PlainView:
    """One line per report on stdout (or `stream`), prefixed with the loop's audio time; logs go to stderr."""

    def __init__(self, clock: Callable[[], float] = lambda: 0.0, stream: Any = None) -> None:
        self.clock = clock
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self.stream, flush=True)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def event(self, event: Event) -> None:
        self._print(f"{event.t:7.2f} s  {event.name:<10} {describe(event)}")

    def store(self, kind: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        self._print(f"{self.clock():7.2f} s  {'store':<10} {store_line(kind, request, answer)}")

    def note(self, text: str) -> None:
        self._print(f"demo: {text}")

    def log(self, level: int, text: str) -> None:
        with self._lock:  # warnings and errors go to stderr, like every other command's logs
            print(f"reorder demo: {logging.getLevelName(level).lower()}: {text}", file=sys.stderr, flush=True)


@dataclass
class Board:
    """Everything the live view draws."""

    title: str = ""
    state: str = "offline"
    t: float = 0.0
    prompt: str = ""
    prompt_at: float | None = None
    ready_at: float | None = None
    """When the read-back's items and total were said (a press counts from then on)."""
    events: deque = field(default_factory=lambda: deque(maxlen=EVENT_LINES))
    store: deque = field(default_factory=lambda: deque(maxlen=STORE_LINES))
    notes: deque = field(default_factory=lambda: deque(maxlen=NOTE_LINES))
    orders: int = 0
    help: str = ""


class LiveView:
    """A rich Live board; `led` reads the (mock) LED's current (r, g, b), so blinking shows as it happens."""

    def __init__(self, title: str, help_text: str, led: Callable[[], Color] | None = None,
                 clock: Callable[[], float] = lambda: 0.0) -> None:
        from rich.console import Console

        self.board = Board(title=title, help=help_text)
        self.led = led
        self.clock = clock
        self.console = Console()
        self._lock = threading.Lock()
        self._live: Any = None

    def start(self) -> None:
        from rich.live import Live

        self._live = Live(console=self.console, get_renderable=self._render, refresh_per_second=10,
                          redirect_stdout=True, redirect_stderr=True)
        self._live.start()

    def stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.refresh()
            live.stop()

    def event(self, event: Event) -> None:
        with self._lock:
            b = self.board
            if event.name == "state":
                b.state = event.state  # type: ignore[attr-defined]
            elif event.name == "prompt":
                b.prompt, b.prompt_at, b.ready_at = event.text, event.t, None  # type: ignore[attr-defined]
            elif event.name == "said" and b.prompt_at is not None and b.ready_at is None:
                b.ready_at = event.t + event.seconds  # type: ignore[attr-defined]
            style = {"error": "bold red", "rejected": "red", "timeout": "yellow", "prompt": "bold",
                     "status": "bold green", "confirmed": "green", "ignored": "yellow"}.get(event.name, "")
            b.events.append((f"{event.t:6.2f}", event.name, describe(event), style))

    def store(self, kind: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        with self._lock:
            self.board.orders += kind == "order"
            self.board.store.append(store_line(kind, request, answer))

    def note(self, text: str) -> None:
        with self._lock:
            self.board.notes.append(text)

    def log(self, level: int, text: str) -> None:
        with self._lock:
            self.board.events.append((f"{self.clock():6.2f}", logging.getLevelName(level).lower(), text, "yellow"))

    # -- drawing ----------------------------------------------------------------------------------
    def _dot(self) -> Any:
        from rich.text import Text

        try:
            r, g, b = self.led() if self.led else PATTERNS[self.board.state].color
        except Exception:  # the panel was closed (pins released): show the pattern instead
            r, g, b = PATTERNS[self.board.state].color
        if max(r, g, b) <= 0.02:
            return Text("○", style="grey50")
        return Text("●", style=f"rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})")

    def _hint(self) -> Any:
        b = self.board
        if b.state != "awaiting-confirmation" or b.ready_at is None:
            return ""
        if self.clock() < b.ready_at:
            return ("   (reading back the items and total: a press now is ignored)", "yellow")
        wanted = "press Enter to order, c then Enter to cancel" if b.help else "waiting for the press"
        return (f"   ({wanted})", "bold green")

    def _render(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            b = self.board
            status = Text.assemble(self._dot(), "  LED ", (led_text(b.state), "bold"), "   state ",
                                   (b.state, "bold cyan"), f"   t {self.clock():5.1f} s")
            prompt = Text.assemble(("Prompt  ", "bold"), b.prompt or "-", self._hint())
            events = Table.grid(padding=(0, 1))
            for row in b.events:
                events.add_row(Text(row[0], style="dim"), Text(row[1], style="bold"), Text(row[2], style=row[3]))
            store = Group(*[Text(line) for line in b.store] or [Text("no order yet", style="dim")])
            notes = Group(*[Text(n, style="italic") for n in b.notes])
            return Group(
                Panel(status, title=b.title, title_align="left"),
                prompt,
                Panel(events, title="device events", title_align="left"),
                Panel(store, title=f"store backend · orders received: {b.orders}", title_align="left"),
                notes,
                Text(b.help, style="dim"),
            )


class ViewLogHandler(logging.Handler):
    """Sends warnings and errors of every logger to the view (the live board would be torn by stderr)."""

    def __init__(self, view: View) -> None:
        super().__init__(logging.WARNING)
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.view.log(record.levelno, record.getMessage())
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)
