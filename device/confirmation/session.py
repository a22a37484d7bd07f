"""The order session, in audio time: a read-back waiting for its press, then the undo window of
the order it became.

A press counts only once the items and total have been said (`press_after`); a repeat order
needs two, and the second counts only once "press again" has been said (and PRESS_GAP_SECONDS
after the first); no press by the deadline and the offer lapses. A confirmed order can be undone
until `undo_until` by a press that went down PRESS_GAP_SECONDS or more after the confirmation,
so the tail of the confirming press never undoes it; the last UNDO_CLOSING_SECONDS are "closing"
(the LED blinks fast). Every press the loop hears while confirming or undoable is decided here
(`OrderSession.press`); chatter is already gone (stages.button). The loop owns the State; this owns
the times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from device.contract.catalogue import Catalogue
from device.dialogue.readback import Readback
from device.events import IntentItem

UNDO_CLOSING_SECONDS = 5.0
"""In the last seconds of the undo window the LED blinks fast."""
PRESS_GAP_SECONDS = 1.0
"""An undo, or the second press of a repeat order, must go down at least this long after the
press (or spoken yes) before it: a deliberate press, not the same one again."""


class Meaning(str, Enum):
    """What a short press means while an order is read back or undoable."""

    EARLY = "early"
    """Pressed down before the items and total were said: ignored."""
    AGAIN = "again"
    """A press counted, another is needed (a repeat order)."""
    CONFIRM = "confirm"
    """The order is confirmed."""
    UNDO = "undo"
    """The last order is withdrawn (its undo window is open)."""
    TOO_SOON = "too-soon"
    """Pressed too soon after the confirmation to be an undo: ignored."""
    NOTHING = "nothing"
    """Nothing is waiting for a press."""


@dataclass
class Pending:
    """An order read back and waiting for the press (prices as they were read back)."""

    items: tuple[IntentItem, ...]
    catalogue: Catalogue
    readback: Readback
    press_after: float
    """Audio time by which the items and total were said; a press that went down earlier is ignored."""
    deadline: float
    presses_needed: int
    asked_again: bool = False
    """A press counted and "press again" was asked for; `press_after` is then when it was said."""

    def press(self, down: float) -> Meaning:
        """A short press that went down at `down`: EARLY, AGAIN or CONFIRM."""
        if down < self.press_after:
            return Meaning.EARLY
        self.presses_needed -= 1
        return Meaning.AGAIN if self.presses_needed > 0 else Meaning.CONFIRM

    def again_said(self, said_at: float, t: float) -> None:
        """"Press again" was said by `said_at` after a press released at `t`: the next press counts
        only if it went down after both that and PRESS_GAP_SECONDS."""
        self.press_after = max(said_at, t + PRESS_GAP_SECONDS)
        self.asked_again = True

    def voice_yes(self, voice_max_total: Decimal) -> str | None:
        """Why a spoken "yes" cannot confirm this order, or None when it can."""
        if self.readback.total > voice_max_total:
            return "above voice_max_total only the button confirms"
        if self.presses_needed > 1:
            return "a repeat order needs the button"
        return None


@dataclass(frozen=True)
class Placed:
    """The last confirmed order and the end of its undo window (0 once closed)."""

    order_id: str
    order: dict[str, Any]
    undo_until: float
    undo_from: float = 0.0
    """A press that went down before this is the confirming press's tail (or chatter), not an undo."""


class OrderSession:
    """The pending read-back and the last order's undo window; the loop asks, this answers in audio time."""

    def __init__(self, timeout_seconds: float, undo_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self.undo_seconds = undo_seconds
        self.pending: Pending | None = None
        self.placed: Placed | None = None

    def offer(self, items: tuple[IntentItem, ...], catalogue: Catalogue, readback: Readback, heard_at: float,
              said_at: float, presses_needed: int = 1) -> Pending:
        """Items and total were said by `heard_at`, the instruction by `said_at`: wait for the press."""
        self.pending = Pending(items, catalogue, readback, heard_at, said_at + self.timeout_seconds, presses_needed)
        return self.pending

    def drop(self) -> None:
        """Forget the read-back (cancelled, timed out, muted, failed...)."""
        self.pending = None

    def expired(self, t: float) -> bool:
        """The read-back's deadline has passed without its press."""
        return self.pending is not None and t >= self.pending.deadline

    def press(self, down: float, t: float, confirming: bool, undoable: bool) -> Meaning:
        """A short press (down at `down`, up at `t`) in the loop's state (`confirming`: the read-back;
        `undoable`: a confirmed order waits); CONFIRM leaves `pending` set for the loop to place."""
        if confirming and self.pending is not None:
            return self.pending.press(down)
        if undoable and self.can_undo(t):
            assert self.placed is not None
            return Meaning.UNDO if down >= self.placed.undo_from else Meaning.TOO_SOON
        return Meaning.NOTHING

    def place(self, order: dict[str, Any], t: float) -> None:
        """The order was committed: its undo window opens; the read-back is done."""
        self.placed = Placed(order["order_id"], order, t + self.undo_seconds, t + PRESS_GAP_SECONDS)
        self.pending = None

    def can_undo(self, t: float) -> bool:
        """The last order can still be withdrawn."""
        return self.placed is not None and t < self.placed.undo_until

    def undo_over(self, t: float) -> bool:
        """The undo window is closed (or none was ever open)."""
        return not self.can_undo(t)

    def undo_closing(self, t: float) -> bool:
        """The undo window is in its last UNDO_CLOSING_SECONDS."""
        return self.placed is not None and self.placed.undo_until - t <= UNDO_CLOSING_SECONDS

    def close_undo(self) -> None:
        """No more undo for the last order (a new request began, or it was undone); it stays the last order."""
        if self.placed is not None:
            self.placed = replace(self.placed, undo_until=0.0)

    def is_last(self, order_id: str) -> bool:
        """Whether `order_id` is the last order confirmed here."""
        return self.placed is not None and self.placed.order_id == order_id
