"""What the LED shows in each state: one table, so the whole light language reads in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

Color = tuple[float, float, float]
OFF: Color = (0, 0, 0)
WHITE: Color = (1, 1, 1)
BLUE: Color = (0, 0, 1)
CYAN: Color = (0, 1, 1)
AMBER: Color = (1, 0.5, 0)
GREEN: Color = (0, 1, 0)
RED: Color = (1, 0, 0)
PURPLE: Color = (0.6, 0, 1)


@dataclass(frozen=True)
class Light:
    """An LED pattern: solid, blink (on/off seconds) or pulse (fade seconds)."""

    color: Color
    mode: str = "solid"
    on_seconds: float = 0.0
    off_seconds: float = 0.0


PATTERNS: dict[str, Light] = {
    "idle": Light(OFF),
    "offline": Light(AMBER, "blink", 0.1, 2.9),  # a short amber flash every 3 s: orders still queue
    "muted": Light(RED),  # solid red: the microphone is closed
    "listening": Light(BLUE),
    "thinking": Light(CYAN, "pulse", 0.4, 0.4),
    "awaiting-confirmation": Light(AMBER, "pulse", 0.6, 0.6),
    "queued": Light(GREEN, "blink", 0.2, 0.2),
    "sent": Light(GREEN, "blink", 0.5, 0.5),  # the undo window: a press still undoes
    "accepted": Light(GREEN),
    "undo-closing": Light(GREEN, "blink", 0.1, 0.1),  # the last seconds of the undo window
    "rejected": Light(RED, "blink", 0.15, 0.15),
    "error": Light(PURPLE, "blink", 0.15, 0.15),
}


class StatusLight(Protocol):
    """Shows a pattern. Implementation: adapters.gpio (gpiozero RGBLED or separate LEDs)."""

    def show(self, light: Light) -> None:
        """Switch to this pattern now (blinking runs in the background)."""
