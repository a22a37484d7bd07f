"""What flows between the stages and out of `replay`: intents and events, as frozen dataclasses.

Each event becomes one JSON line (CONTRACT §4): {"event": <name>, "t": <seconds of audio>, ...fields}.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class IntentItem:
    """One line of a request: a catalogue SKU and the quantity heard (never clamped)."""

    sku: str
    quantity: int
    heard: str = ""
    """The words that named the product."""
    alternatives: tuple[str, ...] = ()
    """Other SKUs that matched almost as well (the read-back names them; never a silent pick)."""


@dataclass(frozen=True)
class Intent:
    """What a person asked for (CONTRACT §5)."""

    action: str
    """"reorder", "cancel" or "none"; "usual" from the parser alone (an extension, see `usual`)."""
    items: tuple[IntentItem, ...] = ()
    confidence: float | None = None
    unknown: tuple[str, ...] = ()
    """Product words heard that are not in the catalogue (why an intent is "none")."""
    usual: bool = False
    """Asked for "the usual": the parser's action "usual"; the device resolves it to a reorder of
    the last accepted order (or "none" when there is none), keeping this flag."""

    def to_dict(self) -> dict[str, Any]:
        """The CONTRACT §5 object, with extra fields only where they carry something."""
        out: dict[str, Any] = {"action": self.action}
        if self.action == "reorder":
            out["items"] = []
            for item in self.items:
                line: dict[str, Any] = {"sku": item.sku, "quantity": item.quantity}
                if item.heard:
                    line["heard"] = item.heard
                if item.alternatives:
                    line["alternatives"] = list(item.alternatives)
                out["items"].append(line)
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 3)
        if self.unknown:
            out["unknown"] = list(self.unknown)
        if self.usual:
            out["usual"] = True
        return out


NONE = Intent("none")


@dataclass(frozen=True)
class Event:
    """Base of every event: `t` is seconds of audio since the loop started."""

    name: ClassVar[str] = "event"
    t: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines object of CONTRACT §4."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "t"}
        return {"event": self.name, "t": round(self.t, 3), **fields}


@dataclass(frozen=True)
class Wake(Event):
    name: ClassVar[str] = "wake"
    engine: str
    keyword: str
    score: float


@dataclass(frozen=True)
class TranscriptEvent(Event):
    name: ClassVar[str] = "transcript"
    text: str
    confidence: float


@dataclass(frozen=True)
class IntentEvent(Event):
    name: ClassVar[str] = "intent"
    intent: Intent

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, "t": round(self.t, 3), **self.intent.to_dict()}


@dataclass(frozen=True)
class Prompt(Event):
    name: ClassVar[str] = "prompt"
    text: str
    total: float
    currency: str
    items: tuple[dict, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["items"] = list(self.items)
        return out


@dataclass(frozen=True)
class Confirmed(Event):
    name: ClassVar[str] = "confirmed"
    by: str


@dataclass(frozen=True)
class Cancelled(Event):
    name: ClassVar[str] = "cancelled"
    by: str
    order_id: str | None = None


@dataclass(frozen=True)
class Timeout(Event):
    name: ClassVar[str] = "timeout"
    by: str = "timer"
    during: str = "confirmation"


@dataclass(frozen=True)
class Queued(Event):
    name: ClassVar[str] = "queued"
    order_id: str


@dataclass(frozen=True)
class Published(Event):
    name: ClassVar[str] = "published"
    order_id: str


@dataclass(frozen=True)
class Status(Event):
    name: ClassVar[str] = "status"
    order_id: str
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class Rejected(Event):
    name: ClassVar[str] = "rejected"
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Error(Event):
    name: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True)
class StateChanged(Event):
    """The loop entered a new state (the LED pattern follows it)."""

    name: ClassVar[str] = "state"
    state: str
    previous: str = ""


@dataclass(frozen=True)
class Said(Event):
    """The device spoke (read-back, refusal, store answer)."""

    name: ClassVar[str] = "said"
    text: str
    seconds: float = 0.0


@dataclass(frozen=True)
class Ignored(Event):
    """An input that did nothing, and why (e.g. a press before the price was read back)."""

    name: ClassVar[str] = "ignored"
    what: str
    why: str


ALL_EVENTS = (Wake, TranscriptEvent, IntentEvent, Prompt, Confirmed, Cancelled, Timeout, Queued, Published, Status,
              Rejected, Error, StateChanged, Said, Ignored)
