"""The device's states and every move between them: the table the loop enforces and the docs draw.

TRANSITIONS is the whole diagram: `Loop._enter` refuses any move it does not hold, docs/architecture.md
draws it (a test keeps the drawing true). Heard and Tick are what a state's handler is given besides
the button's gestures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

FEEDBACK_SECONDS = 2.0
"""How long a refusal or error shows before the device is idle again."""


class State(str, Enum):
    """Where the device is in a request; each state has an LED pattern (confirmation.led)."""

    IDLE = "idle"
    OFFLINE = "offline"
    MUTED = "muted"
    LISTENING = "listening"
    THINKING = "thinking"
    CONFIRMING = "awaiting-confirmation"
    QUEUED = "queued"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"


S = State
REST = (S.IDLE, S.OFFLINE)
"""At rest: IDLE with the broker connected, OFFLINE without (orders queue on disk meanwhile)."""
UNDOABLE = (S.QUEUED, S.SENT, S.ACCEPTED)
CAN_WAKE = (*REST, S.REJECTED, S.ERROR, *UNDOABLE)
UNMUTED = tuple(s for s in State if s is not S.MUTED)


def _table(*rows: tuple[Iterable[State], Iterable[State], str]) -> dict[tuple[State, State], str]:
    table: dict[tuple[State, State], str] = {}
    for sources, targets, why in rows:
        for a in sources:
            for b in targets:
                if a is not b:
                    table[(a, b)] = f"{table[(a, b)]} / {why}" if (a, b) in table else why
    return table


TRANSITIONS = _table(
    ((S.IDLE,), (S.OFFLINE,), "broker lost"),
    ((S.OFFLINE,), (S.IDLE,), "broker back"),
    (CAN_WAKE, (S.LISTENING,), "wake word"),
    ((*REST, S.REJECTED, S.ERROR), (S.LISTENING,), "push-to-talk"),
    ((S.LISTENING,), (S.THINKING,), "request heard"),
    ((S.LISTENING,), REST, "nobody spoke"),
    ((S.THINKING,), (S.CONFIRMING,), "reorder within the limits: items and total read back"),
    ((S.THINKING,), (S.REJECTED,), "not understood, refused or over a limit"),
    ((S.THINKING,), REST, "cancel (undoes the last order in its window) or nothing to order"),
    ((S.CONFIRMING,), (S.QUEUED,), "press or spoken yes after the read-back: order on disk"),
    ((S.CONFIRMING,), REST, "long press, spoken no or no press in time"),
    ((S.CONFIRMING,), (S.REJECTED,), "outbox full"),
    ((S.QUEUED,), (S.SENT,), "broker acknowledged"),
    ((S.QUEUED, S.SENT), (S.ACCEPTED,), "store accepted"),
    (UNDOABLE, (S.REJECTED,), "store rejected"),
    (UNDOABLE, REST, "undo press, undo window over or store cancelled"),
    ((S.REJECTED, S.ERROR), REST, f"{FEEDBACK_SECONDS:g} s later"),
    (UNMUTED, (S.ERROR,), "error"),
    ((s for s in UNMUTED if s is not S.THINKING), (S.MUTED,), "mute"),  # THINKING is over within its step
    ((S.MUTED,), REST, "unmute"),
)
"""(from, to) -> why: every move the loop may make. An error while muted stays MUTED (reported, not shown)."""


@dataclass(frozen=True)
class Heard:
    """One frame of the microphone, and whether the device was still sounding (deaf) when it came."""

    audio: bytes
    deaf: bool


@dataclass(frozen=True)
class Tick:
    """The end of a step: time for the state's timers."""


TICK = Tick()


def mermaid() -> str:
    """The table as a Mermaid state diagram (docs/architecture.md holds it; tests/test_docs.py keeps it true)."""
    lines = ["stateDiagram-v2", "    [*] --> offline: start",
             "    [*] --> muted: start, mute switch closed or mute remembered"]
    for (a, b), why in TRANSITIONS.items():
        lines.append(f"    {_node(a)} --> {_node(b)}: {why}")
    return "\n".join(lines) + "\n"


def _node(state: State) -> str:
    return state.value.replace("-", "_")
